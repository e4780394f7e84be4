#!/usr/bin/env python3
"""Checks every response the Swift test suite recorded against the OpenAPI document.

Each line of the log is {method, uri, status, contentType, body, headers}. The operation is found
by matching the path against the document's path templates; the response schema for the status (or
the operation's documented problem response) is applied with openapi-schema-validator's OAS 3.0
validator. The API's own headers the response carried (`X-API-Version`, `X-Request-Id`, the rate-limit
headers, `WWW-Authenticate`, `Set-Cookie`, `Location`, `Retry-After`, the license signatures…) must be
declared on that response, and every 201 must carry `Location`. Any response that is undocumented or
does not match fails the run.
"""
import json
import re
import sys
from urllib.parse import urlsplit

# Headers the API itself sets, which the document must declare where they are sent. Transport and
# browser-security headers (Content-Type, Content-Length, CSP, nosniff…) are left out.
API_HEADERS = {"x-api-version", "x-request-id", "ratelimit", "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining",
               "x-ratelimit-reset", "retry-after", "www-authenticate", "set-cookie", "location", "allow",
               "x-ecosire-signature", "x-ecosire-signature-ed25519", "x-ecosire-key-id", "x-checksum-sha256",
               "content-disposition"}

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4


def rewrite_refs(node):
    if isinstance(node, dict):
        return {k: ("urn:doc" + v if k == "$ref" and v.startswith("#") else rewrite_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite_refs(v) for v in node]
    return node


def main(document_path, log_path):
    doc = json.load(open(document_path))
    registry = Registry().with_resource("urn:doc", Resource.from_contents(rewrite_refs(doc), default_specification=DRAFT4))
    templates = []
    for path, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        templates.append((re.compile(pattern), path, item))
    # Literal paths win over templates (/api/contacts/merge vs /api/contacts/{id}).
    templates.sort(key=lambda t: t[1].count("{"))

    checked, failures, skipped = 0, [], 0
    for number, line in enumerate(open(log_path), 1):
        entry = json.loads(line)
        method, status = entry["method"].lower(), str(entry["status"])
        path = urlsplit(entry["uri"]).path
        match = next(((p, item) for rx, p, item in templates if rx.match(path) and method in item), None)
        if match is None:
            # Unknown routes and wrong methods are the router's 404/405 problems.
            if status in ("404", "405") and entry["contentType"] == "application/problem+json":
                schema = {"$ref": "#/components/schemas/Problem"}
                body = json.loads(entry["body"])
                OAS30Validator(rewrite_refs(schema), registry=registry).validate(body)
                checked += 1
            elif not path.startswith(("/api/", "/.well-known/", "/metrics")):
                # Web pages and their assets (/docs, /developers, /static…) are not API operations.
                skipped += 1
            else:
                failures.append(f"{entry['method']} {path} → {status}: no documented operation")
            continue
        template, item = match
        operation = item[method]
        response = operation["responses"].get(status) or operation["responses"].get("default")
        if response is None:
            failures.append(f"{entry['method']} {template} → {status}: status not documented")
            continue
        if "$ref" in response:
            response = doc["components"]["responses"][response["$ref"].split("/")[-1]]
        if "headers" in entry:
            sent = {name.lower() for name in entry["headers"]} & API_HEADERS
            declared = {name.lower() for name in response.get("headers", {})}
            for name in sorted(sent - declared):
                failures.append(f"{entry['method']} {template} → {status}: header {name} sent but not declared")
            if status == "201" and "location" not in {name.lower() for name in entry["headers"]}:
                failures.append(f"{entry['method']} {template} → 201 without Location")
        content = response.get("content")
        if not content:
            if entry["body"]:
                failures.append(f"{entry['method']} {template} → {status}: body where none is documented")
            checked += 1
            continue
        media = entry["contentType"].split(";")[0].strip()
        if media not in content:
            failures.append(f"{entry['method']} {template} → {status}: content type {media} not in {list(content)}")
            continue
        schema = content[media].get("schema")
        if schema and ("json" in media):
            try:
                body = json.loads(entry["body"])
                OAS30Validator(rewrite_refs(schema), registry=registry).validate(body)
            except Exception as error:  # noqa: BLE001 - report every kind of mismatch
                message = str(error).splitlines()[0]
                failures.append(f"{entry['method']} {template} → {status}: {message}")
                continue
        checked += 1

    for failure in sorted(set(failures)):
        print("  ✘", failure)
    print(f"OpenAPI response conformance: {checked} responses checked, {len(failures)} failed, {skipped} web pages skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
