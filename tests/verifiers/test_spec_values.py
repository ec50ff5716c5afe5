"""``code_not_in_spec``: a code-like value the spec's examples never show, a warning unless asked to reject."""

from __future__ import annotations

from schemas.catalog import Catalog
from tests.verifiers.verifier_fixtures import call, make_tool, sample
from verifiers.base import VerifyContext
from verifiers.format import FormatVerifier

ROW = {
    "type": "object",
    "properties": {
        "NAME": {"type": "string"},
        "DIR": {"type": "string", "enum": ["NORMAL", "DIR"]},
        "DB_NAME": {"type": "string"},
    },
    "required": ["NAME"],
}
SECT = make_tool(
    "post_db_sect",
    "Create sections",
    {
        "type": "object",
        "properties": {
            "Assign": {
                "type": "object",
                "additionalProperties": ROW,
                "examples": [{"1": {"NAME": "Girder", "DB_NAME": "KS21", "DIR": "NORMAL"}}],
            }
        },
        "required": ["Assign"],
    },
    path="/db/SECT",
)
PLAIN = make_tool("post_db_note", "Notes", {"type": "object", "properties": {"TEXT": {"type": "string"}}})


def run(samples, **options):
    ctx = VerifyContext(catalog=Catalog([SECT, PLAIN]))
    return FormatVerifier(FormatVerifier.Options(**options)).verify(samples, ctx)


def sect(db_name: str, name: str = "C1", row: str = "5"):
    return call("post_db_sect", Assign={row: {"NAME": name, "DB_NAME": db_name}})


def test_a_code_the_examples_show_passes_without_warning() -> None:
    (verdict,) = run([sample("Add section 5 from the KS21 database", [sect("KS21")], ["post_db_sect"])])
    assert (verdict.passed, verdict.details) == (True, {})


def test_an_unseen_code_passes_with_a_warning_by_default() -> None:
    (verdict,) = run([sample("Add section 5 from the KS database", [sect("KS")], ["post_db_sect"])])
    assert verdict.passed is True
    (warning,) = verdict.details["warnings"]
    assert (warning["code"], warning["pointer"]) == ("code_not_in_spec", "/Assign/5/DB_NAME")
    assert "KS21" in warning["message"]


def test_the_option_rejects_an_unseen_code_on_every_path() -> None:
    samples = [
        sample("Add section 5 from KS", [sect("KS")], ["post_db_sect"]),  # one call: the fast path
        sample("Add 5 and 6", [sect("KS21"), sect("JIS", row="6")], ["post_db_sect"]),  # parallel
        sample("Add 5 from KS21", [sect("KS21")], ["post_db_sect", "post_db_note"]),  # fine
    ]
    verdicts = run(samples + samples, reject_codes_not_in_spec=True)  # twice: warm validators too
    assert [v.code for v in verdicts] == ["code_not_in_spec", "code_not_in_spec", "ok"] * 2
    assert verdicts[1].details["pointer"] == "/Assign/6/DB_NAME"


def test_free_text_and_enum_fields_are_not_its_business() -> None:
    samples = [
        sample("Add section 5 named Z9", [sect("KS21", name="Z9")], ["post_db_sect"]),  # NAME: free text
        sample("note", [call("post_db_note", TEXT="ANYTHING")], ["post_db_note"]),  # no examples: no evidence
    ]
    assert [(v.passed, v.details) for v in run(samples, reject_codes_not_in_spec=True)] == [(True, {})] * 2
    enum = sample("x", [call("post_db_sect", Assign={"5": {"NAME": "C", "DIR": "Z"}})], ["post_db_sect"])
    assert run([enum])[0].code == "enum_violation"  # the schema's own check, not a warning
