#!/usr/bin/env python3
"""The webhook receiver and the analysis for bench/webhooks.

  webhook_receiver.py serve PORT
      An asyncio HTTP/1.1 keep-alive server that answers every request at once with 200 and an
      empty body. Each POST /hook is recorded in memory with its arrival time (wall clock, the
      one the server's createdAt comes from). Control paths:
        GET /count  -> "<recorded> <distinct webhook-ids>"
        GET /dump   -> JSON list of [arrival_unix_seconds, webhook_id, contact_name, createdAt_ms]
                       (the bodies are parsed here, not on arrival)
        GET /reset  -> forgets everything recorded
      Any other request (e.g. wrk measuring the ceiling) is answered and not recorded.

  webhook_receiver.py backlog API_URL TOKEN COUNT NAMES.json
      Imports COUNT contacts named B0000000… in CSV imports of 1,000 rows, one after the other
      (each row is one contact.created event); writes the names created and prints
      {"created", "failed", "seconds"}.

  webhook_receiver.py steady API_URL TOKEN RATE SECONDS NAMES.json
      Imports contacts named S0000000… at RATE per second for SECONDS: one import every 50 ms
      (on a fixed schedule, by 8 connections so that a slow import does not delay the next);
      writes the names created and prints {"created", "failed", "seconds", "max_behind_s"}, the
      last being how late an import started at worst (the server did not keep up with the rate).

  webhook_receiver.py summarize DUMP.json BACKLOG_NAMES.json STEADY_NAMES.json
      Prints one JSON object: throughput of the backlog (first to last arrival), latency
      percentiles of the steady-rate events, missing and duplicate deliveries.
"""
import asyncio
import http.client
import json
import queue
import sys
import threading
import time
from datetime import datetime
from urllib.parse import urlsplit

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Receiver(asyncio.Protocol):
    records = []  # (arrival, webhook_id, body)
    ids = set()

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray()

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            method, _, rest = lines[0].partition(" ")
            path = rest.rsplit(" ", 1)[0]
            length, webhook_id, close = 0, "", False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "webhook-id":
                    webhook_id = value.strip()
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
                elif name == "transfer-encoding":
                    # Chunked bodies are not expected (the server sends Content-Length).
                    self.transport.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n")
                    self.transport.close()
                    return
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            if method == "POST" and path == "/hook":
                Receiver.records.append((time.time(), webhook_id, body))
                Receiver.ids.add(webhook_id)
                self.transport.write(OK)
            elif method == "GET" and path in ("/count", "/dump", "/reset"):
                self.transport.write(self.control(path))
            else:
                self.transport.write(OK)
            if close:
                self.transport.close()
                return

    @staticmethod
    def control(path):
        if path == "/count":
            text = f"{len(Receiver.records)} {len(Receiver.ids)}".encode()
        elif path == "/reset":
            Receiver.records, Receiver.ids = [], set()
            text = b"0"
        else:
            rows = []
            for arrival, webhook_id, body in Receiver.records:
                try:
                    contact = json.loads(body)["data"]["object"]
                    created = datetime.fromisoformat(contact["createdAt"].replace("Z", "+00:00")).timestamp() * 1000
                    rows.append([arrival, webhook_id, contact.get("name"), created])
                except (ValueError, KeyError, TypeError):
                    rows.append([arrival, webhook_id, None, None])
            text = json.dumps(rows).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text)


def serve(port):
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Receiver, "127.0.0.1", port, backlog=1024))
    try:
        loop.run_until_complete(server.serve_forever())
    except KeyboardInterrupt:
        pass


class Importer:
    """POSTs CSV imports of contacts on one keep-alive connection."""

    def __init__(self, api_url, token):
        self.address = urlsplit(api_url)
        self.token = token
        self.connection = None

    def run(self, names):
        body = ("name\n" + "\n".join(names) + "\n").encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "text/csv"}
        for attempt in (1, 2):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection(self.address.hostname, self.address.port, timeout=120)
                self.connection.request("POST", "/api/contacts/import", body, headers)
                response = self.connection.getresponse()
                answer = response.read()
                break
            except (OSError, http.client.HTTPException):
                self.connection = None
                if attempt == 2:
                    return [], len(names)
        if response.status != 200:
            sys.stderr.write(f"import answered {response.status}: {answer[:300]!r}\n")
            return [], len(names)
        rows = json.loads(answer)["rows"]
        created = [names[row["row"] - 2] for row in rows if row["status"] == "created"]
        return created, len(names) - len(created)


def backlog(api_url, token, count, names_path):
    importer = Importer(api_url, token)
    created, failed = [], 0
    started = time.monotonic()
    for start in range(0, count, 1000):
        done, lost = importer.run([f"B{i:07d}" for i in range(start, min(count, start + 1000))])
        created += done
        failed += lost
    seconds = time.monotonic() - started
    json.dump(created, open(names_path, "w"))
    print(json.dumps({"created": len(created), "failed": failed, "seconds": seconds}))


def steady(api_url, token, rate, seconds, names_path):
    tick = 0.05
    ticks = max(1, round(seconds / tick))
    work = queue.Queue()
    created, failed, late, lock = [], [0], [0.0], threading.Lock()

    def worker():
        importer = Importer(api_url, token)
        while (item := work.get()) is not None:
            due, names = item
            lateness = time.monotonic() - due
            done, lost = importer.run(names)
            with lock:
                late[0] = max(late[0], lateness)
                created.extend(done)
                failed[0] += lost

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    queued = 0
    for i in range(ticks):
        due = started + i * tick
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        target = round(rate * (i + 1) * tick)
        if target > queued:
            work.put((due, [f"S{n:07d}" for n in range(queued, target)]))
            queued = target
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    json.dump(created, open(names_path, "w"))
    print(json.dumps({"created": len(created), "failed": failed[0], "seconds": elapsed, "max_behind_s": late[0]}))


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def summarize(dump_path, backlog_path, steady_path):
    rows = json.load(open(dump_path))
    events = {"backlog": json.load(open(backlog_path)), "steady": json.load(open(steady_path))}
    first = {}  # webhook-id -> first row
    for row in rows:
        first.setdefault(row[1], row)
    by_name = {}
    for row in first.values():
        by_name.setdefault(row[2], row)
    backlog = [by_name[n] for n in events["backlog"] if n in by_name]
    steady = [by_name[n] for n in events["steady"] if n in by_name]
    result = {
        "received": len(rows),
        "distinct": len(first),
        "duplicates": len(rows) - len(first),
        "missing_backlog": len(events["backlog"]) - len(backlog),
        "missing_steady": len(events["steady"]) - len(steady),
        "unparsed": sum(1 for r in rows if r[3] is None),
    }
    if len(backlog) >= 2:
        arrivals = sorted(r[0] for r in backlog)
        span = arrivals[-1] - arrivals[0]
        result["backlog_span_s"] = span
        result["deliveries_per_s"] = (len(arrivals) - 1) / span if span > 0 else float("nan")
    latencies = sorted(r[0] * 1000 - r[3] for r in steady)
    if latencies:
        created = sorted(r[3] for r in steady)
        span = (created[-1] - created[0]) / 1000
        result["steady_rate"] = (len(created) - 1) / span if span > 0 else float("nan")
        result["p50_ms"] = percentile(latencies, 50)
        result["p99_ms"] = percentile(latencies, 99)
        result["max_ms"] = latencies[-1]
        result["min_ms"] = latencies[0]
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "backlog":
        backlog(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "steady":
        steady(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    elif sys.argv[1] == "summarize":
        summarize(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
