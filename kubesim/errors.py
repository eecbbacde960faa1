"""Kubernetes ``Status`` errors, shaped like apimachinery's ``errors.New*`` helpers."""

from __future__ import annotations

import json
from typing import Any


class APIError(Exception):
    """An error the API answers with a ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason,
        }
        if not self.reason:
            del body["reason"]  # omitempty, as on an internal error
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(kind: str, name: str, group: str = "", **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name}
    if group:
        d["group"] = group
    d["kind"] = kind
    d.update(extra)
    return d


def not_found(group: str, plural: str, name: str) -> APIError:
    qual = f"{plural}.{group}" if group else plural
    return APIError(404, "NotFound", f'{qual} "{name}" not found', _details(plural, name, group))


def already_exists(group: str, plural: str, name: str) -> APIError:
    qual = f"{plural}.{group}" if group else plural
    return APIError(409, "AlreadyExists", f'{qual} "{name}" already exists',
                    _details(plural, name, group))


def conflict(group: str, plural: str, name: str, why: str) -> APIError:
    qual = f"{plural}.{group}" if group else plural
    return APIError(409, "Conflict", f'Operation cannot be fulfilled on {qual} "{name}": {why}',
                    _details(plural, name, group))


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested "
                       "resource") -> APIError:
    return APIError(405, "MethodNotAllowed", message, {})


def unauthorized() -> APIError:
    return APIError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str) -> APIError:
    return APIError(403, "Forbidden", message)


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}",
                    {"causes": [{"message": message}]})


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


# ---- field errors (k8s.io/apimachinery/pkg/util/validation/field) ----

def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # apimachinery prints other values as JSON (Go's encoding/json: no spaces)
    return json.dumps(value, separators=(",", ":"))


class FieldError:
    def __init__(self, kind: str, field: str, value: Any = None, detail: str = "",
                 supported: list[str] | None = None) -> None:
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail
        self.supported = supported

    @property
    def reason(self) -> str:
        return {
            "required": "FieldValueRequired", "invalid": "FieldValueInvalid",
            "duplicate": "FieldValueDuplicate", "notsupported": "FieldValueNotSupported",
            "forbidden": "FieldValueForbidden", "toolong": "FieldValueTooLong",
            "notfound": "FieldValueNotFound",
        }[self.kind]

    def body(self) -> str:
        if self.kind == "required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        if self.kind == "forbidden":
            return "Forbidden" + (f": {self.detail}" if self.detail else "")
        if self.kind == "notfound":
            return f"Not found: {_fmt(self.value)}"
        if self.kind == "duplicate":
            return f"Duplicate value: {_fmt(self.value)}"
        if self.kind == "notsupported":
            s = f"Unsupported value: {_fmt(self.value)}"
            if self.supported:
                s += ": supported values: " + ", ".join(f'"{v}"' for v in self.supported)
            return s
        s = f"Invalid value: {_fmt(self.value)}"
        return s + (f": {self.detail}" if self.detail else "")

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("required", field, detail=detail)


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("invalid", field, value, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("duplicate", field, value)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError("notsupported", field, value, supported=supported)


def forbidden_field(field: str, detail: str) -> FieldError:
    return FieldError("forbidden", field, detail=detail)


def invalid_error(kind: str, group: str, name: str, errs: list[FieldError]) -> APIError:
    if len(errs) == 1:
        agg = str(errs[0])
    else:
        agg = "[" + ", ".join(str(e) for e in errs) + "]"
    causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errs]
    qualified = f"{kind}.{group}" if group else kind  # e.g. StatefulSet.apps
    return APIError(422, "Invalid", f'{qualified} "{name}" is invalid: {agg}',
                    _details(kind, name, group, causes=causes))
