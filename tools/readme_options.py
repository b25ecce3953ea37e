"""README's option table, made from the option table itself (conformance/run/options.py):
`python -m tools.readme_options` rewrites it between the README's markers; a test checks it is current."""

from __future__ import annotations

import sys
from pathlib import Path

from conformance.run.options import OPTIONS

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- options: python -m tools.readme_options -->", "<!-- /options -->"


def table() -> str:
    rows = ["| option | environment | default | meaning |", "|---|---|---|---|"]
    for o in OPTIONS:
        usage = o.flag if o.flag_only else f"{o.flag} {o.flag.lstrip('-').upper().replace('-', '_')}"
        if o.choices:
            usage = o.flag + " " + "\\|".join(o.choices)
        env = o.env + ("=1" if o.flag_only else "")
        default = "" if o.default is None else f"`{o.default}`"
        rows.append(f"| `{usage}` | `{env}` | {default} | {o.help.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)


def current(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    text = README.read_text()
    if START not in text or END not in text:
        sys.exit(f"{README}: no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    README.write_text(f"{head}{START}\n{table()}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
