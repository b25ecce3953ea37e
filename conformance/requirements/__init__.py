"""Requirements derived from the contract, and the checks, generators and calls that judge them."""
