"""The offline server's ``/files`` and ``/batches`` endpoints (Novita's Batch API).

State lives in one :class:`BatchStore` per server instance. A batch's status moves one step per
``polls_per_status`` status polls: ``validating`` -> ``in_progress`` -> ``completed`` (or
``failed`` when the input file is not a valid batch). On completion every line runs through the
same replies as live ``/chat/completions`` and ``/completions`` calls; the output file holds the
answered lines in a shuffled (deterministic) order, the error file the lines that failed.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from novita_core.testing.replies import (
    ApiError,
    ChatPlan,
    CompletionPlan,
    ModelInfo,
    build_chat,
    build_completion,
    dumps,
)

BATCH_ENDPOINTS: dict[str, Callable[[Any, dict[str, ModelInfo]], ChatPlan | CompletionPlan]] = {
    "/v1/chat/completions": build_chat,
    "/v1/completions": build_completion,
}
"""A batch's ``endpoint`` -> the reply builder its lines run through."""
COMPLETION_WINDOWS = ("48h",)
STATUS_STEPS = {"validating": "in_progress", "in_progress": "completed", "cancelling": "cancelled"}

_UNSET_UNTIL_LATER = (
    "output_file_id", "error_file_id", "errors", "in_progress_at", "completed_at", "cancelled_at",
    "failed_at",
)  # fmt: skip
"""Batch fields that stay None until the batch gets that far."""

Reply = tuple[int, Any]
"""HTTP status and a JSON payload (or ``bytes`` for file content)."""


@dataclass
class StoredFile:
    """One uploaded or generated file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def listing(self) -> dict[str, Any]:
        """The file object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "metadata": self.metadata,
        }


@dataclass
class StoredBatch:
    """One batch and its progress."""

    info: dict[str, Any]
    polls: int = 0
    cancelled_from: str | None = None


class BatchStore:
    """Files and batches of one offline server.

    Args:
        models: Returns the server's current models (they may change while it runs).

    Attributes:
        polls_per_status: Status polls (``GET /batches/{id}``) per step of the status.
        files: Stored files by id.
        batches: Stored batches by id.
    """

    def __init__(self, models: Callable[[], dict[str, ModelInfo]]) -> None:
        self._models = models
        self.polls_per_status = 1
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, StoredBatch] = {}
        self._counter = 0

    @staticmethod
    def routes(path: str) -> bool:
        """Whether ``path`` (any prefix) is one of these endpoints."""
        parts = path.rstrip("/").split("/")
        return "files" in parts[-3:] or "batches" in parts[-3:]

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request.

        Raises:
            ApiError: Novita-shaped 400/404/405 errors.
        """
        parts = path.rstrip("/").split("/")
        for size in (3, 2, 1):
            tail = parts[-size:]
            if tail[0] in ("files", "batches"):
                break
        else:
            raise ApiError(404, f"no such endpoint: {method} {path}", reason="NOT_FOUND")
        route = (method, tail[0], len(tail), tail[-1] if len(tail) == 3 else None)
        if route == ("POST", "files", 1, None):
            return 200, self._upload(headers, body)
        if route == ("GET", "files", 1, None):
            return 200, _listing([f.listing() for f in self.files.values()])
        if route[:3] in (("GET", "files", 2), ("DELETE", "files", 2)):
            stored = self._file(tail[1])
            if method == "GET":
                return 200, stored.listing()
            del self.files[stored.id]
            return 200, {"id": stored.id, "object": "file", "deleted": True}
        if route == ("GET", "files", 3, "content"):
            return 200, self._file(tail[1]).content
        if route == ("POST", "batches", 1, None):
            return 200, self._create(_json_body(body))
        if route == ("GET", "batches", 1, None):
            batches = reversed([b.info for b in self.batches.values()])
            return 200, _listing(list(batches))
        if route == ("GET", "batches", 2, None):
            return 200, self._poll(self._batch(tail[1]))
        if route == ("POST", "batches", 3, "cancel"):
            return 200, self._cancel(self._batch(tail[1]))
        raise ApiError(405, f"{method} is not allowed on {path}", reason="METHOD_NOT_ALLOWED")

    # -- files -----------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:06d}"

    def _upload(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        fields = _multipart(headers.get("content-type", ""), body)
        purpose = fields.get("purpose")
        if "file" not in fields:
            raise ApiError(400, "multipart field 'file' is required")
        if purpose is None or purpose[1] != b"batch":
            raise ApiError(400, "purpose must be 'batch'")
        filename, content = fields["file"]
        lines = sum(1 for line in content.splitlines() if line.strip())
        stored = self._store(filename or "upload.jsonl", "batch", content, total_requests=lines)
        return stored.listing()

    def _store(self, filename: str, purpose: str, content: bytes, **metadata: Any) -> StoredFile:
        stored = StoredFile(
            id=self._next_id("file-offline-"),
            filename=filename,
            purpose=purpose,
            content=content,
            created_at=int(time.time()),
            metadata=metadata,
        )
        self.files[stored.id] = stored
        return stored

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, f"file not found: {file_id}", reason="FILE_NOT_FOUND")
        return stored

    # -- batches ---------------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = body.get("endpoint")
        if endpoint not in BATCH_ENDPOINTS:
            raise ApiError(400, f"endpoint must be one of {sorted(BATCH_ENDPOINTS)}")
        if body.get("completion_window") not in COMPLETION_WINDOWS:
            raise ApiError(400, f"completion_window must be one of {list(COMPLETION_WINDOWS)}")
        input_file = self._file(str(body.get("input_file_id")))
        total = input_file.metadata.get("total_requests", 0)
        info: dict[str, Any] = {
            "id": self._next_id("batch_offline_"),
            "object": "batch",
            "endpoint": endpoint,
            "input_file_id": input_file.id,
            "completion_window": body["completion_window"],
            "status": "validating",
            "created_at": int(time.time()),
            **dict.fromkeys(_UNSET_UNTIL_LATER),
            "request_counts": {"total": total, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        self.batches[info["id"]] = StoredBatch(info)
        return dict(info)

    def _batch(self, batch_id: str) -> StoredBatch:
        stored = self.batches.get(batch_id)
        if stored is None:
            raise ApiError(404, f"batch not found: {batch_id}", reason="BATCH_NOT_FOUND")
        return stored

    def _poll(self, stored: StoredBatch) -> dict[str, Any]:
        info = stored.info
        if info["status"] in STATUS_STEPS:
            stored.polls += 1
            if stored.polls >= self.polls_per_status:
                stored.polls = 0
                self._step(stored)
        return dict(info)

    def _step(self, stored: StoredBatch) -> None:
        info = stored.info
        following = STATUS_STEPS[info["status"]]
        now = int(time.time())
        if following == "in_progress":
            errors = self._validate(self._file(info["input_file_id"]).content, info["endpoint"])
            if errors:
                info.update(status="failed", failed_at=now, errors=_listing(errors))
                return
            info.update(status="in_progress", in_progress_at=now)
        elif following == "completed":
            self._run(stored, len(self._lines(stored)))
            info.update(status="completed", completed_at=now)
        else:  # cancelled: the lines "already run" when it was in progress are kept
            ran = len(self._lines(stored)) // 2 if stored.cancelled_from == "in_progress" else 0
            self._run(stored, ran)
            info.update(status="cancelled", cancelled_at=now)

    def _cancel(self, stored: StoredBatch) -> dict[str, Any]:
        info = stored.info
        if info["status"] in ("validating", "in_progress"):
            stored.cancelled_from = info["status"]
            stored.polls = 0
            info.update(status="cancelling", cancelling_at=int(time.time()))
        elif info["status"] not in ("cancelling", "cancelled"):
            raise ApiError(400, f"cannot cancel a batch that is {info['status']}")
        return dict(info)

    def _lines(self, stored: StoredBatch) -> list[dict[str, Any]]:
        content = self._file(stored.info["input_file_id"]).content
        return [json.loads(raw) for raw in content.splitlines() if raw.strip()]

    def _validate(self, content: bytes, endpoint: str) -> list[dict[str, Any]]:
        """Problems that reject the whole file (Novita: one model per file)."""
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        models: set[str] = set()
        raws = [raw for raw in content.splitlines() if raw.strip()]
        if not raws:
            return [{"code": "empty_file", "message": "the input file has no lines", "line": None}]
        for number, raw in enumerate(raws, start=1):
            try:
                line = json.loads(raw)
            except ValueError:
                line = None
            problem = _line_problem(line, endpoint, seen)
            if problem:
                errors.append({"code": "invalid_request", "message": problem, "line": number})
                continue
            models.add(str(line["body"].get("model")))
        if len(models) > 1:
            message = f"all requests of a file must use one model, got {sorted(models)}"
            errors.append({"code": "mixed_models", "message": message, "line": None})
        return errors

    def _run(self, stored: StoredBatch, count: int) -> None:
        """Answer the first ``count`` lines; write the output and error files."""
        info = stored.info
        build = BATCH_ENDPOINTS[info["endpoint"]]
        models = self._models()
        answered: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for number, line in enumerate(self._lines(stored)[:count]):
            try:
                status, answer = 200, build(line["body"], models).response()
            except ApiError as exc:
                status, answer = exc.status, exc.body()
            request_id = f"req_offline_{info['id']}_{number}"
            response = {"status_code": status, "request_id": request_id, "body": answer}
            result = {"id": f"batch_req_{number:06d}", "custom_id": line["custom_id"]}
            (answered if status == 200 else failed).append(
                {**result, "response": response, "error": None}
            )
        random.Random(info["id"]).shuffle(answered)
        for kind, lines in (("output", answered), ("error", failed)):
            if lines:
                written = self._store(f"{info['id']}_{kind}.jsonl", "batch_output", _jsonl(lines))
                info[f"{kind}_file_id"] = written.id
        counts = info["request_counts"]
        info["request_counts"] = {**counts, "completed": len(answered), "failed": len(failed)}


def _line_problem(line: Any, endpoint: str, seen: set[str]) -> str | None:
    if not isinstance(line, dict):
        return "the line is not a JSON object"
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return "custom_id must be a non-empty string"
    if custom_id in seen:
        return f"duplicate custom_id {custom_id!r}"
    seen.add(custom_id)
    if line.get("method") != "POST":
        return "method must be POST"
    if line.get("url") != endpoint:
        return f"url must be the batch endpoint {endpoint}, got {line.get('url')!r}"
    if not isinstance(line.get("body"), dict):
        return "body must be a JSON object"
    return None


def _listing(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False}


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(dumps(line) + b"\n" for line in lines)


def _json_body(body: bytes) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            return parsed
    raise ApiError(400, "request body must be a JSON object")


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename, bytes)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(400, "POST /files takes multipart/form-data")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        raise ApiError(400, "malformed multipart body")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields
