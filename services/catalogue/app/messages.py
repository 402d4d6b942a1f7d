"""Protobuf views of the catalogue's rows, and procedure content read back from protobuf.

Shared by the gRPC servicer and the events (a published event carries the whole version)."""

from __future__ import annotations

import json
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from motcua.v1 import catalogue_pb2
from services.catalogue.store.models import Agency, AuditEntry, Procedure


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def procedure_message(p: Procedure, agency_names: dict[str, str] | None = None) -> catalogue_pb2.Procedure:
    d = p.data
    names = agency_names or {}
    time = d.get("processing_time") or {}
    pt = catalogue_pb2.ProcessingTime(unit=time.get("unit") or "", note=time.get("note") or "")
    if time.get("value") is not None:
        pt.value = float(time["value"])
    fees = []
    for f in d.get("fees") or []:
        fee = catalogue_pb2.Fee(name=f.get("name") or "", condition=f.get("condition") or "",
                                exemption=f.get("exemption") or "")
        if f.get("amount_vnd") is not None:
            fee.amount_vnd = int(f["amount_vnd"])
        fees.append(fee)
    docs = [
        catalogue_pb2.RequiredDocument(
            name=doc.get("name") or "", copies=int(doc.get("copies") or 0),
            quantity_published=doc.get("quantity_published") or "", form=doc.get("form") or "",
            id=doc.get("id") or "", mandatory=bool(doc.get("mandatory")), condition=doc.get("condition") or "",
            kind=doc.get("kind") or "", template_url=doc.get("template_url") or "",
        )
        for doc in d.get("documents") or []
    ]
    steps = [
        catalogue_pb2.WorkflowStep(id=s.get("id") or "", name=s.get("name") or "", role=s.get("role") or "",
                                   agency_code=s.get("agency_code") or "",
                                   budget_hours=float(s.get("budget_hours") or 0),
                                   inter_agency=bool(s.get("inter_agency")))
        for s in d.get("workflow") or []
    ]
    schema = d.get("eform_schema")
    processing = d.get("processing_agency_code") or ""
    msg = catalogue_pb2.Procedure(
        code=p.code, version=p.version, name=p.name, sector=p.sector, level=p.level,
        agency_code=p.agency_code, agency_name=names.get(p.agency_code, ""), agency_published=d.get("agency") or "",
        online_mode=p.online_mode, channels=d.get("channels") or [], processing_time=pt,
        fees=fees, documents=docs, legal_basis=d.get("legal_basis") or [], result=d.get("result") or "",
        min_verification_level=int(d.get("min_verification_level") or 0), status=p.status,
        sources=d.get("sources") or [], demo_settings=bool(d.get("demo_fields")),
        eform_schema_json=json.dumps(schema, ensure_ascii=False) if schema else "",
        workflow=steps, applicant_types=d.get("applicant_types") or [],
        processing_agency_code=processing, processing_agency_name=names.get(processing, ""),
        conditions=d.get("conditions") or [], description=d.get("description") or "",
        updated_by=p.updated_by or "",
    )
    for field, value in (("effective_from", p.effective_from), ("effective_to", p.effective_to),
                         ("updated_at", p.updated_at or p.created_at)):
        ts = _ts(value)
        if ts is not None:
            getattr(msg, field).CopyFrom(ts)
    return msg


def content_from_message(msg: catalogue_pb2.Procedure) -> dict:
    """What an admin sent, as raw content for ``model.normalise`` (validation follows)."""
    time = {"value": msg.processing_time.value if msg.processing_time.HasField("value") else None,
            "unit": msg.processing_time.unit, "note": msg.processing_time.note}
    schema: object = None
    if msg.eform_schema_json.strip():
        try:
            schema = json.loads(msg.eform_schema_json)
        except json.JSONDecodeError:
            schema = msg.eform_schema_json  # the validator names it
    return {
        "code": msg.code, "name": msg.name, "description": msg.description, "sector": msg.sector,
        "level": msg.level, "agency": msg.agency_published, "agency_code": msg.agency_code,
        "processing_agency_code": msg.processing_agency_code, "applicant_types": list(msg.applicant_types),
        "online": msg.online_mode, "channels": list(msg.channels), "processing_time": time,
        "fees": [{"name": f.name, "amount_vnd": f.amount_vnd if f.HasField("amount_vnd") else None,
                  "condition": f.condition, "exemption": f.exemption} for f in msg.fees],
        "documents": [{"id": d.id, "name": d.name, "copies": d.copies, "quantity_published": d.quantity_published,
                       "form": d.form, "kind": d.kind, "mandatory": d.mandatory, "condition": d.condition,
                       "template_url": d.template_url} for d in msg.documents],
        "eform_schema": schema, "result": msg.result, "legal_basis": list(msg.legal_basis),
        "conditions": list(msg.conditions), "min_verification_level": msg.min_verification_level,
        "workflow": [{"id": s.id, "name": s.name, "role": s.role, "agency_code": s.agency_code,
                      "budget_hours": s.budget_hours, "inter_agency": s.inter_agency} for s in msg.workflow],
        "sources": list(msg.sources), "demo_settings": msg.demo_settings,
    }


def agency_message(a: Agency, now: datetime) -> catalogue_pb2.Agency:
    msg = catalogue_pb2.Agency(code=a.code, name=a.name, parent_code=a.parent_code or "", kind=a.kind,
                               demo_code=a.demo_code, successor_code=a.successor_code or "",
                               active=agency_active(a, now))
    for field, value in (("valid_from", a.valid_from), ("valid_to", a.valid_to)):
        ts = _ts(value)
        if ts is not None:
            getattr(msg, field).CopyFrom(ts)
    return msg


def agency_active(a: Agency, now: datetime) -> bool:
    return (a.valid_from is None or a.valid_from <= now) and (a.valid_to is None or a.valid_to > now)


def audit_message(e: AuditEntry) -> catalogue_pb2.AuditEntry:
    msg = catalogue_pb2.AuditEntry(
        id=e.id, actor_id=e.actor_id, actor_name=e.actor_name, action=e.action, entity=e.entity,
        entity_key=e.entity_key, version=e.version,
        changes=[catalogue_pb2.AuditChange(field=c["field"], old_value=c["old"], new_value=c["new"])
                 for c in e.changes or []],
    )
    msg.occurred_at.CopyFrom(_ts(e.occurred_at))
    return msg
