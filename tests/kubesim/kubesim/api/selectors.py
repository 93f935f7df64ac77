"""Label and field selectors, parsed the way apimachinery parses them.

Label selectors support the whole grammar (equality, set-based `in`/`notin`, existence, `!key`, and the
integer `>`/`<` comparisons). Field selectors support the fields the real server supports per kind;
anything else is a 400, as on a real server.
"""
from __future__ import annotations

import re
from typing import Callable

from . import errors

_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]")


class _Lexer:
    """Splits a label selector into identifiers and operators; whitespace only separates tokens."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def tokens(self) -> list[str]:
        out: list[str] = []
        t = self.text
        while self.pos < len(t):
            c = t[self.pos]
            if c.isspace():
                self.pos += 1
            elif t.startswith("==", self.pos) or t.startswith("!=", self.pos):
                out.append(t[self.pos:self.pos + 2])
                self.pos += 2
            elif c in "=!(),<>":
                out.append(c)
                self.pos += 1
            elif _KEY_CHARS.match(c):
                start = self.pos
                while self.pos < len(t) and _KEY_CHARS.match(t[self.pos]):
                    self.pos += 1
                out.append(t[start:self.pos])
            else:
                raise errors.bad_request(f"unable to parse requirement: invalid character {c!r} in selector")
        return out


Requirement = Callable[[dict], bool]


def _valid_key(key: str) -> bool:
    return bool(re.fullmatch(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", key)) \
        and len(key.split("/")[-1]) <= 63


def parse_label_selector(text: str | None) -> Callable[[dict], bool]:
    """Returns a predicate over a labels dict. Raises 400 on a syntax error."""
    if not text or not text.strip():
        return lambda labels: True
    toks = _Lexer(text).tokens()
    reqs: list[Requirement] = []
    i = 0

    def bad(msg: str) -> errors.ApiError:
        return errors.bad_request(f"unable to parse requirement: {msg}")

    while i < len(toks):
        negate = False
        if toks[i] == "!":
            negate = True
            i += 1
        if i >= len(toks) or not _valid_key(toks[i]):
            raise bad(f"invalid label key in {text!r}")
        key = toks[i]
        i += 1
        nxt = toks[i] if i < len(toks) else ","
        if negate:
            if nxt != ",":
                raise bad("exists operator '!' takes no value")
            reqs.append(lambda l, k=key: k not in l)
        elif nxt == ",":
            reqs.append(lambda l, k=key: k in l)
        elif nxt in ("=", "==", "!="):
            i += 1
            value = ""
            if i < len(toks) and toks[i] not in (",",):
                value = toks[i]
                i += 1
            if nxt == "!=":
                reqs.append(lambda l, k=key, v=value: l.get(k) != v)
            else:
                reqs.append(lambda l, k=key, v=value: k in l and l[k] == v)
        elif nxt in ("in", "notin"):
            i += 1
            if i >= len(toks) or toks[i] != "(":
                raise bad("expected '(' after set operator")
            i += 1
            values: set[str] = set()
            expect_value = True
            while True:
                if i >= len(toks):
                    raise bad("expected ')'")
                tok = toks[i]
                i += 1
                if tok == ")":
                    if expect_value and values:
                        values.add("")
                    break
                if tok == ",":
                    if expect_value:
                        values.add("")
                    expect_value = True
                    continue
                if not expect_value or tok in "()!=<>":
                    raise bad(f"unexpected {tok!r} in value set")
                values.add(tok)
                expect_value = False
            if not values:
                raise bad("for 'in', 'notin' operators, values set can't be empty")
            if nxt == "in":
                reqs.append(lambda l, k=key, vs=frozenset(values): k in l and l[k] in vs)
            else:
                reqs.append(lambda l, k=key, vs=frozenset(values): l.get(k) not in vs)
        elif nxt in ("<", ">"):
            i += 1
            if i >= len(toks):
                raise bad("expected an integer")
            try:
                bound = int(toks[i])
            except ValueError:
                raise bad("for 'Gt', 'Lt' operators, the value must be an integer") from None
            i += 1
            reqs.append(lambda l, k=key, b=bound, gt=(nxt == ">"): _int_cmp(l.get(k), b, gt))
        else:
            raise bad(f"unexpected token {nxt!r}")
        if i < len(toks):
            if toks[i] != ",":
                raise bad(f"expected ',' but got {toks[i]!r}")
            i += 1
            if i >= len(toks):
                raise bad("trailing ','")
    return lambda labels: all(r(labels) for r in reqs)


def _int_cmp(value, bound: int, gt: bool) -> bool:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return False
    return v > bound if gt else v < bound


# Fields each kind can be selected by, besides metadata.name and metadata.namespace.
_FIELDS: dict[str, dict[str, Callable[[dict], str]]] = {
    "pods": {
        "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
        "spec.restartPolicy": lambda o: (o.get("spec") or {}).get("restartPolicy", ""),
        "spec.schedulerName": lambda o: (o.get("spec") or {}).get("schedulerName", ""),
        "spec.serviceAccountName": lambda o: (o.get("spec") or {}).get("serviceAccountName", ""),
        "spec.hostNetwork": lambda o: str(bool((o.get("spec") or {}).get("hostNetwork"))).lower(),
        "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
        "status.podIP": lambda o: (o.get("status") or {}).get("podIP", ""),
        "status.nominatedNodeName": lambda o: (o.get("status") or {}).get("nominatedNodeName", ""),
    },
    "services": {
        "spec.clusterIP": lambda o: (o.get("spec") or {}).get("clusterIP", ""),
        "spec.type": lambda o: (o.get("spec") or {}).get("type", ""),
    },
    "secrets": {"type": lambda o: o.get("type", "")},
    "namespaces": {"status.phase": lambda o: (o.get("status") or {}).get("phase", "")},
    "replicasets": {"status.replicas": lambda o: str((o.get("status") or {}).get("replicas", 0))},
    "events": {
        "involvedObject.kind": lambda o: (o.get("involvedObject") or {}).get("kind", ""),
        "involvedObject.name": lambda o: (o.get("involvedObject") or {}).get("name", ""),
        "involvedObject.namespace": lambda o: (o.get("involvedObject") or {}).get("namespace", ""),
        "involvedObject.uid": lambda o: (o.get("involvedObject") or {}).get("uid", ""),
        "reason": lambda o: o.get("reason", ""),
        "type": lambda o: o.get("type", ""),
    },
}
_COMMON = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
}


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(resource: str, text: str | None) -> Callable[[dict], bool]:
    """Returns a predicate over whole objects. Unknown fields are a 400 like on a real server."""
    if not text or not text.strip():
        return lambda obj: True
    fields = {**_COMMON, **_FIELDS.get(resource, {})}
    reqs = []
    for term in _split_unescaped(text, ","):
        term = term.strip()
        if not term:
            continue
        m = re.match(r"^((?:[^=!\\]|\\.)+?)\s*(==|=|!=)\s*(.*)$", term)
        if not m:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        name, op, value = m.group(1).strip(), m.group(2), _unescape(m.group(3))
        getter = fields.get(name)
        if getter is None:
            raise errors.bad_request(f'field label not supported: {name}')
        if op == "!=":
            reqs.append(lambda o, g=getter, v=value: g(o) != v)
        else:
            reqs.append(lambda o, g=getter, v=value: g(o) == v)
    return lambda obj: all(r(obj) for r in reqs)


def selector_string(match_labels: dict | None, match_expressions: list | None = None) -> str:
    """Renders a LabelSelector (matchLabels/matchExpressions) in the text grammar."""
    parts = [f"{k}={v}" for k, v in sorted((match_labels or {}).items())]
    for expr in match_expressions or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def label_selector_matches(selector: dict | None, labels: dict) -> bool:
    """Matches a LabelSelector object; an empty selector matches everything (as for Deployments)."""
    if not selector:
        return True
    return parse_label_selector(selector_string(selector.get("matchLabels"),
                                                selector.get("matchExpressions")))(labels)
