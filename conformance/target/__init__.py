"""The deployment under test: URLs, credentials, TLS, the HTTP client, discovery, its feature
profile, and the embedded releases this tool installs and starts."""
