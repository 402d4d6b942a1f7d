"""The procedure version a dossier is filed under, and the checks a submission must pass.

Pure: the terms are plain data taken from the catalogue's published version; every problem
is collected (not just the first), so the applicant fixes everything in one go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


@dataclass(frozen=True)
class DocumentSpec:
    id: str
    name: str
    mandatory: bool = False


@dataclass(frozen=True)
class StepSpec:
    id: str
    name: str
    role: str = ""
    agency_code: str = ""
    budget_hours: float = 0.0
    inter_agency: bool = False


@dataclass(frozen=True)
class ProcedureTerms:
    code: str
    version: int
    name: str
    status: str = "published"
    level: str = ""
    agency_code: str = ""
    processing_value: float | None = None
    processing_unit: str = "working_day"
    min_verification_level: int = 0
    documents: tuple[DocumentSpec, ...] = ()
    workflow: tuple[StepSpec, ...] = ()
    eform_schema: dict | None = None
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    applicant_types: tuple[str, ...] = ()
    fees_vnd: int | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @cached_property
    def form_validator(self) -> Draft202012Validator | None:
        """Compiled once per procedure version (a schema that does not compile accepts nothing)."""
        if not self.eform_schema:
            return None
        try:
            Draft202012Validator.check_schema(self.eform_schema)
        except SchemaError:
            return Draft202012Validator({"not": {}})
        return Draft202012Validator(self.eform_schema)

    @property
    def mandatory_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.documents if d.mandatory and d.id)

    @property
    def requirement_ids(self) -> frozenset[str]:
        return frozenset(d.id for d in self.documents if d.id)


def eligibility_problems(terms: ProcedureTerms, *, verification_level: int, applicant_kind: str,
                         now: datetime) -> dict[str, str]:
    problems: dict[str, str] = {}
    if terms.status != "published":
        problems["procedure_code"] = f"procedure is {terms.status or 'not published'}"
    elif terms.effective_to is not None and now >= terms.effective_to:
        problems["procedure_code"] = "procedure no longer in effect"
    elif terms.effective_from is not None and now < terms.effective_from:
        problems["procedure_code"] = "procedure not yet in effect"
    if verification_level < terms.min_verification_level:
        problems["verification_level"] = f"level {terms.min_verification_level} required"
    if terms.applicant_types and applicant_kind and applicant_kind not in terms.applicant_types:
        problems["applicant_type"] = f"must be one of {', '.join(terms.applicant_types)}"
    return problems


def form_problems(terms: ProcedureTerms, form: dict) -> dict[str, str]:
    """Every e-form error, keyed by the field's path (form_data.<path>)."""
    validator = terms.form_validator
    if validator is None:
        return {}
    problems: dict[str, str] = {}
    for error in sorted(validator.iter_errors(form), key=lambda e: list(map(str, e.absolute_path))):
        path = list(map(str, error.absolute_path))
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [p for p in error.validator_value if p not in error.instance]
            for name in missing:
                problems[".".join(["form_data", *path, name])] = "required"
            continue
        problems.setdefault(".".join(["form_data", *path]), error.message[:200])
    return problems


def document_problems(terms: ProcedureTerms, covered: set[str]) -> dict[str, str]:
    """Each mandatory document (thành phần hồ sơ bắt buộc) not covered by an attachment."""
    names = {d.id: d.name for d in terms.documents}
    return {f"documents.{rid}": f"missing mandatory document: {names[rid][:150]}"
            for rid in terms.mandatory_ids if rid not in covered}
