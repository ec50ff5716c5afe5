"""Rebuilding the HTTP request of a call: one serialisation rule per test case."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

import pytest

from schemas.models import ToolCall
from tests.verifiers.execution_fixtures import make_tool
from verifiers.request import (
    Credentials,
    RequestBuildError,
    build_request,
    origin_and_prefix,
    placeholder_credentials,
)

# ------------------------------------------------------------------------------------------------- path


@pytest.mark.parametrize(
    ("case", "value", "style", "explode", "expected"),
    [
        ("slash is escaped", "a/b", None, None, "/p/a%2Fb"),
        ("space is %20", "a b", None, None, "/p/a%20b"),
        ("unicode is UTF-8 escaped", "노드", None, None, "/p/%EB%85%B8%EB%93%9C"),
        ("reserved characters escaped", "?#&=%;,", None, None, "/p/%3F%23%26%3D%25%3B%2C"),
        ("integer", 42, None, None, "/p/42"),
        ("boolean in JSON spelling", True, None, None, "/p/true"),
        ("simple array", [1, 2, 3], "simple", False, "/p/1,2,3"),
        ("simple object", {"R": 1, "G": 2}, "simple", False, "/p/R,1,G,2"),
        ("simple object exploded", {"R": 1, "G": 2}, "simple", True, "/p/R=1,G=2"),
        ("label primitive", "x", "label", False, "/p/.x"),
        ("label array", [1, 2], "label", False, "/p/.1,2"),
        ("label array exploded", [1, 2], "label", True, "/p/.1.2"),
        ("matrix primitive", 5, "matrix", False, "/p/;v=5"),
        ("matrix array", [1, 2], "matrix", False, "/p/;v=1,2"),
        ("matrix array exploded", [1, 2], "matrix", True, "/p/;v=1;v=2"),
        ("matrix object exploded", {"R": 1, "G": 2}, "matrix", True, "/p/;R=1;G=2"),
        ("items of an array escaped one by one", ["a,b", "c/d"], "simple", False, "/p/a%2Cb,c%2Fd"),
    ],
)
def test_path_parameter(
    case: str, value: object, style: str | None, explode: bool | None, expected: str
) -> None:
    tool = make_tool("/p/{v}", {"v": {"location": "path", "name": "v", "style": style, "explode": explode}})
    assert (
        build_request(tool, ToolCall(name=tool.name, arguments={"v": value})).url
        == "http://api.test/v1" + expected
    )


def test_path_argument_uses_its_wire_name() -> None:
    tool = make_tool("/pets/{petId}", {"pet_id": {"location": "path", "name": "petId"}})
    assert build_request(tool, ToolCall(name=tool.name, arguments={"pet_id": 7})).url.endswith("/pets/7")


@pytest.mark.parametrize("arguments", [{}, {"v": None}, {"v": ""}])
def test_missing_path_parameter_is_a_build_error(arguments: dict) -> None:
    tool = make_tool("/p/{v}", {"v": {"location": "path", "name": "v"}})
    with pytest.raises(RequestBuildError) as info:
        build_request(tool, ToolCall(name=tool.name, arguments=arguments))
    assert info.value.code == "missing_path_parameter"


# ------------------------------------------------------------------------------------------------ query


@pytest.mark.parametrize(
    ("case", "value", "style", "explode", "expected"),
    [
        ("form exploded array repeats the key", [1, 2], "form", True, "ids=1&ids=2"),
        ("form default explodes", [1, 2], None, None, "ids=1&ids=2"),
        ("form array not exploded", [1, 2], "form", False, "ids=1,2"),
        ("spaceDelimited", [1, 2], "spaceDelimited", False, "ids=1%202"),
        ("pipeDelimited", [1, 2], "pipeDelimited", False, "ids=1|2"),
        ("tabDelimited (Swagger 2.0 tsv) joins with a tab", [1, 2], "tabDelimited", False, "ids=1%092"),
        ("deepObject", {"color": "red", "size": 2}, "deepObject", True, "ids[color]=red&ids[size]=2"),
        ("form exploded object spreads its properties", {"color": "red"}, "form", True, "color=red"),
        ("form object not exploded", {"color": "red", "size": 2}, "form", False, "ids=color,red,size,2"),
        ("boolean", False, None, None, "ids=false"),
        ("reserved characters in a value", "a & b=c", None, None, "ids=a%20%26%20b%3Dc"),
        ("unicode value", "절점", None, None, "ids=%EC%A0%88%EC%A0%90"),
    ],
)
def test_query_parameter(
    case: str, value: object, style: str | None, explode: bool | None, expected: str
) -> None:
    tool = make_tool("/q", {"ids": {"location": "query", "name": "ids", "style": style, "explode": explode}})
    assert (
        build_request(tool, ToolCall(name=tool.name, arguments={"ids": value})).url
        == f"http://api.test/v1/q?{expected}"
    )


def test_null_query_argument_is_omitted() -> None:
    tool = make_tool("/q", {"a": {"location": "query", "name": "a"}})
    assert build_request(tool, ToolCall(name=tool.name, arguments={"a": None})).url == "http://api.test/v1/q"


# -------------------------------------------------------------------------------------- header, cookie


@pytest.mark.parametrize(
    ("value", "explode", "expected"),
    [
        ("abc", None, "abc"),
        (7, None, "7"),
        (True, None, "true"),
        ([1, 2], None, "1,2"),
        ({"a": 1}, True, "a=1"),
        ({"a": 1}, False, "a,1"),
    ],
)
def test_header_parameter(value: object, explode: bool | None, expected: str) -> None:
    tool = make_tool("/h", {"trace": {"location": "header", "name": "X-Trace", "explode": explode}})
    assert (
        build_request(tool, ToolCall(name=tool.name, arguments={"trace": value})).headers["X-Trace"]
        == expected
    )


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "nul\x00"])
def test_header_with_control_characters_is_refused(value: str) -> None:
    tool = make_tool("/h", {"trace": {"location": "header", "name": "X-Trace"}})
    with pytest.raises(RequestBuildError) as info:
        build_request(tool, ToolCall(name=tool.name, arguments={"trace": value}))
    assert info.value.code == "invalid_header_value"


def test_cookies_fold_into_one_cookie_header() -> None:
    tool = make_tool(
        "/c", {"a": {"location": "cookie", "name": "a"}, "b": {"location": "cookie", "name": "sid"}}
    )
    req = build_request(tool, ToolCall(name=tool.name, arguments={"a": 1, "b": "x y"}))
    assert req.headers["Cookie"] == "a=1; sid=x%20y"


# ---------------------------------------------------------------------------------------------- bodies


def test_json_body_properties_use_wire_names() -> None:
    tool = make_tool(
        "/pets",
        {
            "pet_name": {"location": "body-property", "name": "name"},
            "kind": {"location": "body-property", "name": "kind"},
        },
        method="POST",
        media="application/json",
    )
    req = build_request(tool, ToolCall(name=tool.name, arguments={"pet_name": "Rex", "kind": "dog"}))
    assert (json.loads(req.content or b""), req.headers["Content-Type"]) == (
        {"name": "Rex", "kind": "dog"},
        "application/json",
    )


def test_whole_body_argument_is_the_body() -> None:
    tool = make_tool(
        "/bulk", {"items": {"location": "body", "name": "items"}}, method="POST", media="application/json"
    )
    req = build_request(tool, ToolCall(name=tool.name, arguments={"items": [1, {"a": "노드"}]}))
    assert json.loads(req.content or b"") == [1, {"a": "노드"}]


def test_urlencoded_form_body() -> None:
    tool = make_tool(
        "/adopt",
        {"owner": {"location": "form", "name": "owner"}, "tags": {"location": "form", "name": "tags"}},
        method="POST",
        media="application/x-www-form-urlencoded",
    )
    req = build_request(tool, ToolCall(name=tool.name, arguments={"owner": "Ann Lee", "tags": ["a", "b"]}))
    assert (parse_qsl((req.content or b"").decode()), req.headers["Content-Type"]) == (
        [("owner", "Ann Lee"), ("tags", "a"), ("tags", "b")],
        "application/x-www-form-urlencoded",
    )


@pytest.mark.parametrize(
    ("case", "style", "explode", "expected"),
    [
        ("form, not exploded: commas", "form", False, "ids=1%2C2"),
        ("form, exploded: the key repeats", "form", True, "ids=1&ids=2"),
        ("spaceDelimited: a space", "spaceDelimited", False, "ids=1+2"),
        ("pipeDelimited: a pipe", "pipeDelimited", False, "ids=1%7C2"),
        ("tabDelimited (Swagger 2.0 tsv): a tab", "tabDelimited", False, "ids=1%092"),
    ],
)
def test_urlencoded_array_follows_its_encoding_style(
    case: str, style: str, explode: bool, expected: str
) -> None:
    tool = make_tool(
        "/search",
        {"ids": {"location": "form", "name": "ids", "style": style, "explode": explode}},
        method="POST",
        media="application/x-www-form-urlencoded",
    )
    assert (
        build_request(tool, ToolCall(name=tool.name, arguments={"ids": [1, 2]})).content == expected.encode()
    )


def _multipart_tool():
    return make_tool(
        "/photo",
        {
            "caption": {"location": "form", "name": "caption"},
            "file": {"location": "form", "name": "file"},
            "meta": {"location": "form", "name": "meta"},
        },
        method="POST",
        media="multipart/form-data",
        properties={
            "caption": {"type": "string"},
            "file": {"type": "string", "format": "binary"},
            "meta": {"type": "object"},
        },
    )


def _parts(content: bytes, content_type: str) -> dict[str, tuple[str | None, str | None, bytes]]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + content)
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(),
            part.get("Content-Type"),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


def test_multipart_body_parts() -> None:
    tool = _multipart_tool()
    req = build_request(
        tool, ToolCall(name=tool.name, arguments={"caption": "hi 🙂", "file": "raw", "meta": {"w": 3}})
    )
    parts = _parts(req.content or b"", req.headers["Content-Type"])
    assert parts == {
        "caption": (None, None, "hi 🙂".encode()),
        "file": ("file", "application/octet-stream", b"raw"),
        "meta": (None, "application/json", b'{"w": 3}'),
    }


def test_multipart_array_is_one_part_per_item() -> None:
    tool = make_tool(
        "/photo",
        {
            "ids": {"location": "form", "name": "ids", "content_type": "text/plain"},
            "owners": {"location": "form", "name": "owners", "content_type": "application/json"},
        },
        method="POST",
        media="multipart/form-data",
    )
    req = build_request(tool, ToolCall(name=tool.name, arguments={"ids": [1, 2], "owners": [{"n": "A"}]}))
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {req.headers['Content-Type']}\r\n\r\n".encode() + (req.content or b"")
    )
    parts = [
        (p.get_param("name", header="content-disposition"), p.get("Content-Type"), p.get_payload(decode=True))
        for p in message.iter_parts()
    ]
    assert parts == [
        ("ids", "text/plain", b"1"),
        ("ids", "text/plain", b"2"),
        ("owners", "application/json", b'{"n": "A"}'),
    ]


def test_multipart_bytes_are_deterministic() -> None:
    tool = _multipart_tool()
    make = lambda: build_request(tool, ToolCall(name=tool.name, arguments={"caption": "x", "file": "y"}))  # noqa: E731
    assert (make().content, make().headers) == (make().content, make().headers)


def test_no_body_arguments_means_no_body() -> None:
    tool = make_tool(
        "/pets",
        {"name": {"location": "body-property", "name": "name"}},
        method="POST",
        media="application/json",
    )
    req = build_request(tool, ToolCall(name=tool.name, arguments={}))
    assert (req.content, "Content-Type" in req.headers) == (None, False)


@pytest.mark.parametrize(
    ("case", "media", "arguments", "required", "expected"),
    [
        ("required, no property set: {}", "application/json", {"name": "body-property"}, True, b"{}"),
        (
            "a +json media type keeps its name",
            "application/merge-patch+json",
            {"name": "body-property"},
            True,
            b"{}",
        ),
        ("optional body: none", "application/json", {"name": "body-property"}, False, None),
        ("a whole-body argument left out: none", "application/json", {"items": "body"}, True, None),
        ("a required form body: none", "application/x-www-form-urlencoded", {"name": "form"}, True, None),
    ],
)
def test_required_json_body_without_arguments_is_an_empty_object(
    case: str, media: str, arguments: dict[str, str], required: bool, expected: bytes | None
) -> None:
    tool = make_tool(
        "/jobs",
        {arg: {"location": where, "name": arg} for arg, where in arguments.items()},
        method="POST",
        media=media,
    )
    tool.binding.body_required = required
    req = build_request(tool, ToolCall(name=tool.name, arguments={}))
    assert (req.content, req.headers.get("Content-Type")) == (expected, media if expected else None)


# ------------------------------------------------------------------------------------ unbound arguments


def test_unbound_argument_goes_into_a_json_body() -> None:
    tool = make_tool(
        "/pets",
        {"name": {"location": "body-property", "name": "name"}},
        method="POST",
        media="application/json",
    )
    req = build_request(tool, ToolCall(name=tool.name, arguments={"name": "Rex", "colour": "red"}))
    assert (json.loads(req.content or b""), req.unbound) == ({"name": "Rex", "colour": "red"}, ("colour",))


def test_unbound_argument_without_a_body_goes_into_the_query() -> None:
    tool = make_tool("/pets")
    assert build_request(tool, ToolCall(name=tool.name, arguments={"colour": "red"})).url.endswith(
        "/pets?colour=red"
    )


# ------------------------------------------------------------------------------------ URLs and servers


@pytest.mark.parametrize(
    ("server_url", "base_url", "expected"),
    [
        ("http://api.test/v1", None, "http://api.test/v1/items/1"),
        ("http://api.test/v1/", None, "http://api.test/v1/items/1"),
        ("/api", None, "/api/items/1"),
        ("", None, "/items/1"),
        ("http://api.test/v1", "http://127.0.0.1:9/gen/", "http://127.0.0.1:9/gen/items/1"),
    ],
)
def test_server_url_joining(server_url: str, base_url: str | None, expected: str) -> None:
    tool = make_tool("/items/{id}", {"id": {"location": "path", "name": "id"}}, server_url=server_url)
    assert (
        build_request(tool, ToolCall(name=tool.name, arguments={"id": 1}), base_url=base_url).url == expected
    )


@pytest.mark.parametrize(
    ("server_url", "expected"),
    [
        ("https://moa-engineers.midasit.com:443/gen", ("https://moa-engineers.midasit.com:443", "/gen")),
        ("http://h.test", ("http://h.test", "")),
        ("/api/", ("", "/api")),
    ],
)
def test_origin_and_prefix(server_url: str, expected: tuple[str, str]) -> None:
    assert origin_and_prefix(server_url) == expected


# ----------------------------------------------------------------------------------------- credentials


def test_credentials_win_over_an_argument_of_the_same_header() -> None:
    tool = make_tool("/h", {"key": {"location": "header", "name": "mapi-key"}})
    req = build_request(
        tool,
        ToolCall(name=tool.name, arguments={"key": "from-model"}),
        credentials=Credentials({"MAPI-Key": "real"}),
    )
    assert [(k, v) for k, v in req.headers.items() if k.lower() == "mapi-key"] == [("MAPI-Key", "real")]


@pytest.mark.parametrize(
    ("scheme", "where", "expected"),
    [
        ({"type": "apiKey", "in": "header", "name": "MAPI-Key"}, "headers", {"MAPI-Key": "sandbox-key"}),
        ({"type": "apiKey", "in": "query", "name": "key"}, "query", {"key": "sandbox-key"}),
        ({"type": "apiKey", "in": "cookie", "name": "sid"}, "cookies", {"sid": "sandbox-key"}),
        ({"type": "http", "scheme": "bearer"}, "headers", {"Authorization": "Bearer sandbox-token"}),
        ({"type": "http", "scheme": "basic"}, "headers", {"Authorization": "Basic c2FuZGJveDpzYW5kYm94"}),
        ({"type": "oauth2", "flows": {}}, "headers", {"Authorization": "Bearer sandbox-token"}),
    ],
)
def test_placeholder_credentials_satisfy_the_first_requirement(
    scheme: dict, where: str, expected: dict
) -> None:
    tool = make_tool("/s", security=[{"s": []}], schemes={"s": scheme})
    assert dict(getattr(placeholder_credentials(tool.binding), where)) == expected


def test_redacted_headers_hide_the_secret_header() -> None:
    tool = make_tool("/s")
    req = build_request(
        tool, ToolCall(name=tool.name, arguments={}), credentials=Credentials({"MAPI-Key": "s3cret"})
    )
    assert req.redacted_headers(["mapi-key"]) == {"MAPI-Key": "***"}
