"""Protobuf replies as the public API's JSON."""

from __future__ import annotations

import json

from google.protobuf import json_format

from gateway.schemas import ts
from motcua.v1 import dossier_pb2, identity_pb2, notification_pb2

CHANNELS = {1: "in_person", 2: "online", 3: "post"}
KINDS = {1: "citizen", 2: "business", 3: "organisation", 4: "official"}


def account(a: identity_pb2.Account) -> dict:
    return {
        "id": a.id, "kind": KINDS.get(a.kind, "unknown"), "username": a.username, "full_name": a.full_name,
        "identity_number_masked": a.identity_number_masked, "email": a.email, "phone": a.phone,
        "verification_level": a.verification_level, "agency_code": a.agency_code, "roles": list(a.roles),
        "created_at": ts(a.created_at),
    }


def message(msg) -> dict:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def dossier(d: dossier_pb2.Dossier) -> dict:
    out = {
        "code": d.code, "procedure_code": d.procedure_code, "procedure_version": d.procedure_version,
        "procedure_name": d.procedure_name, "agency_code": d.agency_code, "applicant_id": d.applicant_id,
        "applicant_name": d.applicant_name, "status_code": d.status_code, "status": d.status,
        "channel": CHANNELS.get(d.channel, "online"), "submitted_at": ts(d.submitted_at),
        "accepted_at": ts(d.accepted_at), "due_at": ts(d.due_at), "version": d.version,
        "form_data": json.loads(d.form_data_json or "{}"),
    }
    if d.tracking_secret:
        out["tracking_secret"] = d.tracking_secret
    return out


def log_entry(e: dossier_pb2.LogEntry) -> dict:
    return {
        "seq": e.seq, "at": ts(e.at), "actor_id": e.actor_id, "actor_name": e.actor_name,
        "actor_role": e.actor_role, "action": e.action, "status_code": e.status_code, "status": e.status,
        "note": e.note, "prev_hash": e.prev_hash, "hash": e.hash,
    }


def tracking(v: dossier_pb2.TrackingView) -> dict:
    return {"code": v.code, "procedure_name": v.procedure_name, "agency_code": v.agency_code,
            "status_code": v.status_code, "status": v.status, "submitted_at": ts(v.submitted_at),
            "due_at": ts(v.due_at)}


def notification(n: notification_pb2.Notification) -> dict:
    return {"id": n.id, "event_type": n.event_type, "subject": n.subject, "title": n.title, "body": n.body,
            "read": n.read, "channel": n.channel, "created_at": ts(n.created_at)}
