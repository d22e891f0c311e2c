"""Include/exclude globs, matched in linear time (no backtracking regular expressions).

Globs are matched, case-insensitively, against the path relative to the source folder with ``/``
separators: ``*`` and ``?`` stay within one folder, ``**`` spans folders (``**/`` also matches no
folder at all, so ``**/*.tif`` matches ``a.tif`` too), ``[abc]``/``[!abc]``/``[a-z]`` are
character classes. A pattern without ``/`` matches the file name at any depth (``*.tif`` is
``**/*.tif``).

A pattern is compiled to a small automaton whose states are positions in the pattern, and a
name is matched by carrying the set of live states along it: time is at most the name's length
times the pattern's, whatever the pattern. (A backtracking regex takes seconds per name on a
pattern like ``*a*a*a*a*a*a*a*a*b``, and a SemIngest author chooses the patterns.)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class _Kind(enum.Enum):
    LITERAL = "literal"  # one given character
    ONE = "one"  # ?: one character except /
    CLASS = "class"  # [...]: one character in (or not in) a set
    STAR = "star"  # *: any run without /
    ANY = "any"  # ** not followed by /: any run
    FOLDERS = "folders"  # **/: zero or more whole folders


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    char: str = ""
    members: frozenset[str] = frozenset()
    ranges: tuple[tuple[str, str], ...] = ()
    negated: bool = False

    def takes(self, ch: str) -> bool:
        """Whether a single-character token consumes ``ch`` (already lower-cased)."""
        if self.kind is _Kind.LITERAL:
            return ch == self.char
        if self.kind is _Kind.ONE:
            return ch != "/"
        inside = ch in self.members or any(lo <= c <= hi for c in {ch, ch.upper()} for lo, hi in self.ranges)
        return inside != self.negated


def _tokens(pattern: str) -> tuple[_Token, ...]:
    pat = pattern.replace("\\", "/").lstrip("/")
    if "/" not in pat:
        pat = "**/" + pat
    out: list[_Token] = []
    i, n = 0, len(pat)
    while i < n:
        if pat.startswith("**/", i):
            out.append(_Token(_Kind.FOLDERS))
            i += 3
        elif pat.startswith("**", i):
            out.append(_Token(_Kind.ANY))
            i += 2
        elif pat[i] == "*":
            out.append(_Token(_Kind.STAR))
            i += 1
        elif pat[i] == "?":
            out.append(_Token(_Kind.ONE))
            i += 1
        elif pat[i] == "[" and (token := _class(pat, i)) is not None:
            out.append(token[0])
            i = token[1]
        else:
            out.append(_Token(_Kind.LITERAL, char=pat[i].lower()))
            i += 1
    return tuple(out)


def _class(pat: str, i: int) -> tuple[_Token, int] | None:
    """The class starting at ``pat[i] == '['`` and the index after it; None when unclosed."""
    start = i + 1
    negated = start < len(pat) and pat[start] == "!"
    if negated:
        start += 1
    end = pat.find("]", start + 1 if start < len(pat) and pat[start] == "]" else start)
    if end < 0:
        return None
    body = pat[start:end]
    members: set[str] = set()
    ranges: list[tuple[str, str]] = []
    j = 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            ranges.append((body[j], body[j + 2]))
            j += 3
        else:
            members.add(body[j].lower())
            j += 1
    return _Token(_Kind.CLASS, members=frozenset(members), ranges=tuple(ranges), negated=negated), end + 1


class Glob:
    """One compiled pattern; ``matches(path)`` runs in O(len(path) x len(pattern))."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._tokens = _tokens(pattern)
        self._suffix = _name_suffix(self._tokens)

    # A state is (token index, inside) where ``inside`` marks being within a folder name of a
    # ``**/`` token (which must then reach a / before the token can end).
    def _closure(self, states: set[tuple[int, bool]]) -> set[tuple[int, bool]]:
        todo = list(states)
        while todo:
            index, inside = todo.pop()
            if index < len(self._tokens) and not inside:
                if self._tokens[index].kind in (_Kind.STAR, _Kind.ANY, _Kind.FOLDERS):
                    nxt = (index + 1, False)
                    if nxt not in states:
                        states.add(nxt)
                        todo.append(nxt)
        return states

    def matches(self, path: str) -> bool:
        if self._suffix is not None:  # ``*.tif`` / ``**/*.tif``: the file name's ending decides
            return path[path.rfind("/") + 1 :].lower().endswith(self._suffix)
        return self._automaton_matches(path)

    def _automaton_matches(self, path: str) -> bool:
        tokens, end = self._tokens, len(self._tokens)
        states = self._closure({(0, False)})
        for ch in path.lower():
            step: set[tuple[int, bool]] = set()
            for index, _inside in states:
                if index == end:
                    continue
                token = tokens[index]
                kind = token.kind
                if kind is _Kind.STAR:
                    if ch != "/":
                        step.add((index, False))
                elif kind is _Kind.ANY:
                    step.add((index, False))
                elif kind is _Kind.FOLDERS:
                    step.add((index, ch != "/"))
                elif token.takes(ch):
                    step.add((index + 1, False))
            if not step:
                return False
            states = self._closure(step)
        return (end, False) in states


def _name_suffix(tokens: tuple[_Token, ...]) -> str | None:
    """The literal ending of a ``**/*<literal>`` pattern (what ``*.tif`` compiles to), else None.

    Such a pattern matches exactly the paths whose last component ends with the literal: ``**/``
    takes any folders, ``*`` any run within the name. Listing a facility's archive matches every
    file against the default patterns, all of this form: the automaton costs ~0.1 ms a match,
    the ending a fraction of a microsecond.
    """
    if len(tokens) < 2 or tokens[0].kind is not _Kind.FOLDERS or tokens[1].kind is not _Kind.STAR:
        return None
    rest = tokens[2:]
    if not all(t.kind is _Kind.LITERAL and t.char != "/" for t in rest):
        return None
    return "".join(t.char for t in rest)


class GlobSet:
    """Any of several patterns (an empty set matches nothing)."""

    def __init__(self, patterns: Iterable[str]):
        self.globs = tuple(Glob(p) for p in patterns if p)
        # the ``*.ext`` patterns answered together: one endswith over their endings
        self._suffixes = tuple(g._suffix for g in self.globs if g._suffix is not None)  # noqa: SLF001
        self._others = tuple(g for g in self.globs if g._suffix is None)  # noqa: SLF001

    def __bool__(self) -> bool:
        return bool(self.globs)

    def matches(self, path: str) -> bool:
        if self._suffixes and path[path.rfind("/") + 1 :].lower().endswith(self._suffixes):
            return True
        return any(g.matches(path) for g in self._others)

    @property
    def patterns(self) -> Sequence[str]:
        return tuple(g.pattern for g in self.globs)
