"""Name and value checks with apimachinery's exact messages."""

from __future__ import annotations

import ipaddress
import re

from .errors import FieldError, invalid

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
               "with an alphabetic character, and end with an alphanumeric character (e.g. "
               "'my-name',  or 'abc-123', regex used for validation is "
               "'[a-z]([-a-z0-9]*[a-z0-9])?')")
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                     "characters or '-', and must start and end with an alphanumeric character "
                     "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                         "characters, '-' or '.', and must start and end with an alphanumeric "
                         "character (e.g. 'example.com', regex used for validation is "
                         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def dns1035_label(field: str, value: str) -> list[FieldError]:
    errs = []
    if len(value) > 63:
        errs.append(invalid(field, value, "must be no more than 63 characters"))
    if not DNS1035_LABEL.match(value):
        errs.append(invalid(field, value, DNS1035_MSG))
    return errs


def dns1123_label(field: str, value: str) -> list[FieldError]:
    errs = []
    if len(value) > 63:
        errs.append(invalid(field, value, "must be no more than 63 characters"))
    if not DNS1123_LABEL.match(value):
        errs.append(invalid(field, value, DNS1123_LABEL_MSG))
    return errs


def dns1123_subdomain(field: str, value: str) -> list[FieldError]:
    errs = []
    if len(value) > 253:
        errs.append(invalid(field, value, "must be no more than 253 characters"))
    if not DNS1123_SUBDOMAIN.match(value):
        errs.append(invalid(field, value, DNS1123_SUBDOMAIN_MSG))
    return errs


def iana_svc_name(field: str, value: str) -> list[FieldError]:
    errs = []
    if len(value) > 15:
        errs.append(invalid(field, value, "must be no more than 15 characters"))
    if not re.match(r"^[-a-z0-9]+$", value):
        errs.append(invalid(field, value, "must contain only alpha-numeric characters (a-z, 0-9), "
                            "and hyphens (-)"))
    if "--" in value:
        errs.append(invalid(field, value, "must not contain consecutive hyphens"))
    if not re.search(r"[a-z]", value):
        errs.append(invalid(field, value, "must contain at least one letter (a-z)"))
    if value.startswith("-") or value.endswith("-"):
        errs.append(invalid(field, value, "must not begin or end with a hyphen"))
    return errs


def port_number(field: str, value: object) -> list[FieldError]:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [invalid(field, value, "must be between 1 and 65535, inclusive")]
    return []


def parse_ip(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
