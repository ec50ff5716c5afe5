"""JSON pointers of argument paths (RFC 6901): the one-join fast case and the escaped one agree."""

from __future__ import annotations

import pytest

from verifiers.arguments import pointer


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([], ""),
        (["Assign", "1", "X"], "/Assign/1/X"),
        (["Assign", 0, "ITEMS", 2], "/Assign/0/ITEMS/2"),
        ([""], "/"),  # the empty key is a token too
        (["a", ""], "/a/"),
        (["", ""], "//"),
        (["a/b"], "/a~1b"),  # a slash inside a key would otherwise read as two tokens
        (["c~d", "e"], "/c~0d/e"),
        (["~1"], "/~01"),  # escape ~ first, or "~1" would come back as "/"
        (["/", "~"], "/~1/~0"),
    ],
)
def test_pointer_escapes_exactly_where_needed(path, expected):
    assert pointer(path) == expected
