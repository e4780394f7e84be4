#!/usr/bin/env python3
"""Copies the SDK snippets, verbatim, from the tests that run them into the documentation.

The six common operations live in Tests/EcosireTests/SDK/SDKSnippetTests.swift and
sdk/typescript/test/snippets_test.ts between `// snippet:NAME` and `// end-snippet`; the tests
execute them against a live server and assert their results. README.md shows each one between
`<!-- snippet:LANGUAGE/NAME -->` and `<!-- end-snippet -->`. Without arguments this rewrites those
blocks; `--check` changes nothing and fails when a block differs from its test.
"""
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "swift": ROOT / "Tests" / "EcosireTests" / "SDK" / "SDKSnippetTests.swift",
    "typescript": ROOT / "sdk" / "typescript" / "test" / "snippets_test.ts",
}
FENCES = {"swift": "swift", "typescript": "ts"}
DOCUMENTS = [ROOT / "README.md"]
REGION = re.compile(r"^[ \t]*// snippet:([\w-]+)\n(.*?)^[ \t]*// end-snippet\n", re.S | re.M)
BLOCK = re.compile(r"<!-- snippet:(\w+)/([\w-]+) -->\n.*?<!-- end-snippet -->", re.S)


def snippets():
    found = {}
    for language, path in SOURCES.items():
        for match in REGION.finditer(path.read_text()):
            found[(language, match.group(1))] = textwrap.dedent(match.group(2)).rstrip("\n")
    return found


def render(document, found):
    missing = []

    def block(match):
        key = (match.group(1), match.group(2))
        if key not in found:
            missing.append("/".join(key))
            return match.group(0)
        return f"<!-- snippet:{key[0]}/{key[1]} -->\n```{FENCES[key[0]]}\n{found[key]}\n```\n<!-- end-snippet -->"

    return BLOCK.sub(block, document), missing


def main():
    check = "--check" in sys.argv[1:]
    found = snippets()
    failures = []
    for path in DOCUMENTS:
        current = path.read_text()
        updated, missing = render(current, found)
        failures += [f"{path.name}: no snippet {name} in the tests" for name in missing]
        shown = {tuple(m.groups()) for m in BLOCK.finditer(current)}
        failures += [f"{path.name}: snippet {'/'.join(key)} is not shown" for key in sorted(found) if key not in shown]
        if updated != current:
            if check:
                failures.append(f"{path.name}: a snippet differs from its test (run scripts/snippets.py)")
            else:
                path.write_text(updated)
    for failure in failures:
        print(failure)
    if not failures:
        print(f"{len(found)} snippets {'match their tests' if check else 'copied'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
