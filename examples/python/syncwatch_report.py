"""Report sync runs to syncwatch from Python (Django management commands,
Celery tasks, plain scripts).

It replaces the HaierSyncLog rows a job used to write:

    # before
    log = HaierSyncLog.objects.create(sync_type="products", status="processing")
    ...
    log.status = "success"; log.total_count = n; log.completed_at = timezone.now(); log.save()

    # after
    with sync_run("products", source="haier") as run:
        ...
        run.total_count, run.success_count, run.failed_count = n, ok, bad

Only Python's standard library is needed (3.8 or later), so it runs in any
Django or Celery environment. Reporting never breaks the job: when syncwatch
cannot be reached, the report is retried for a bounded time (same event_id
each time, so a retry is never a second report) and then logged and dropped.

Settings come from the environment, as for the syncwatch binary:
SYNCWATCH_SERVER (default http://127.0.0.1:8080) and SYNCWATCH_TOKEN.
"""

import datetime
import json
import logging
import os
import random
import socket
import time
import urllib.error
import urllib.request
import uuid

log = logging.getLogger("syncwatch")

SERVER = os.environ.get("SYNCWATCH_SERVER", "http://127.0.0.1:8080").rstrip("/")
TOKEN = os.environ.get("SYNCWATCH_TOKEN", "")

# How long one report is retried in all, and one attempt waits.
REPORT_TIMEOUT = 30.0
ATTEMPT_TIMEOUT = 10.0

# The server's limit on a message, in bytes of UTF-8.
MAX_MESSAGE_BYTES = 65536


def message_tail(text, limit=MAX_MESSAGE_BYTES):
    """The end of text that fits in limit bytes of UTF-8, cut at a character
    boundary: the end of a job's output says most about how it ended."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    # Dropping the bytes of a character cut at the start leaves valid UTF-8.
    return data[-limit:].decode("utf-8", "ignore")


def new_id():
    """A time-ordered id (UUIDv7 on Python 3.14+, else UUIDv4)."""
    return str(getattr(uuid, "uuid7", uuid.uuid4)())


def now():
    """The current time in UTC, to the millisecond, as syncwatch stores it."""
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def iso(t):
    return t.isoformat().replace("+00:00", "Z") if t else None


def send_report(report, timeout=REPORT_TIMEOUT):
    """POST one report to syncwatch; return its run_id, or None on failure.

    The report gets an event_id before the first attempt, and every retry
    sends the same one: syncwatch stores it once however often it arrives.
    Network errors, 5xx and 429 answers are retried with exponential backoff
    and jitter (honouring Retry-After); other 4xx answers are not, and their
    error (which names the field at fault) is logged.
    """
    report = {k: v for k, v in report.items() if v is not None}
    report.setdefault("event_id", new_id())
    report.setdefault("run_id", new_id())
    if "message" in report:
        report["message"] = message_tail(report["message"])
    body = json.dumps(report, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    deadline = time.monotonic() + timeout
    backoff = 0.25
    attempt = 0
    while True:
        attempt += 1
        wait = None
        req = urllib.request.Request(SERVER + "/api/v1/runs", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=min(ATTEMPT_TIMEOUT, max(deadline - time.monotonic(), 0.1))) as resp:
                return json.load(resp)["items"][0]["run_id"]
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            if exc.code != 429 and exc.code < 500:
                log.warning("syncwatch rejected the %s report of run %s: HTTP %s %s",
                            report.get("status"), report["run_id"], exc.code, text[:500])
                return None
            problem = "HTTP %s" % exc.code
            retry_after = exc.headers.get("Retry-After", "")
            if retry_after.isdigit():
                wait = float(retry_after)
        except (OSError, ValueError, KeyError, IndexError) as exc:
            # URLError, timeouts and resets are OSErrors; a garbled answer
            # is worth another try too.
            problem = str(exc)
        if wait is None:
            wait = backoff / 2 + random.uniform(0, backoff / 2)
            backoff = min(backoff * 2, 5.0)
        if time.monotonic() + wait > deadline:
            log.warning("cannot report run %s to syncwatch after %d attempts: %s",
                        report["run_id"], attempt, problem)
            return None
        time.sleep(wait)


class sync_run:
    """A run of a sync job, reported when it starts and when it ends.

    Use it as a context manager. Set total_count, success_count,
    failed_count and message on it while the job runs; the status at the end
    follows from them (partial when some records failed and some succeeded)
    unless you set status yourself. An exception ends the run as failed, with
    the exception as message, and is re-raised.
    """

    def __init__(self, sync_type, source="haier", attributes=None):
        self.run_id = new_id()
        self.sync_type = sync_type
        self.source = source
        self.attributes = {"host": socket.gethostname(), **(attributes or {})}
        self.started_at = None
        self.status = None
        self.message = ""
        self.total_count = self.success_count = self.failed_count = 0
        # One event id per report, kept for retries of the same report.
        self._start_event = new_id()
        self._end_event = new_id()

    def _report(self, status, event_id, completed_at=None):
        return send_report({
            "run_id": self.run_id,
            "event_id": event_id,
            "source": self.source,
            "sync_type": self.sync_type,
            "status": status,
            "message": self.message if completed_at else None,
            "total_count": self.total_count,
            "success_count": self.success_count,
            "failed_count": self.failed_count,
            # The same started_at in every report of the run.
            "started_at": iso(self.started_at),
            "completed_at": iso(completed_at),
            "attributes": self.attributes,
        }, timeout=2.0 if completed_at is None else REPORT_TIMEOUT)

    def __enter__(self):
        self.started_at = now()
        # A short timeout: the job must not wait long for monitoring.
        self._report("processing", self._start_event)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            self.status = "failed"
            self.message = "%s: %s" % (exc_type.__name__, exc)
        elif self.status is None:
            if self.failed_count and self.success_count:
                self.status = "partial"
            elif self.failed_count:
                self.status = "failed"
            else:
                self.status = "success"
        self.total_count = max(self.total_count, self.success_count + self.failed_count)
        self._report(self.status, self._end_event, completed_at=max(now(), self.started_at))
        return False  # re-raise the job's exception


# Django management command (backend/catalog/management/commands/sync_haier_products.py):
#
#     class Command(BaseCommand):
#         def handle(self, *args, **options):
#             with sync_run("products", source="haier", attributes={"trigger": "cron"}) as run:
#                 for page in haier_client.products():
#                     for item in page:
#                         run.total_count += 1
#                         try:
#                             save_product(item)
#                             run.success_count += 1
#                         except ValidationError as exc:
#                             run.failed_count += 1
#                             run.message = "last error: %s" % exc
#
# Celery task:
#
#     @shared_task(bind=True, max_retries=3)
#     def sync_haier_stock(self):
#         with sync_run("stock", source="haier", attributes={"task_id": self.request.id}) as run:
#             result = haier_client.sync_stock()
#             run.total_count, run.success_count, run.failed_count = result.total, result.ok, result.failed

if __name__ == "__main__":
    # python3 syncwatch_report.py  -- reports one short demo run
    logging.basicConfig(level=logging.INFO)
    with sync_run("manual", source="haier", attributes={"trigger": "example"}) as run:
        time.sleep(0.2)
        run.total_count, run.success_count, run.failed_count = 10, 9, 1
        run.message = "1 of 10 records rejected: missing price"
    print(run.run_id, run.status)
