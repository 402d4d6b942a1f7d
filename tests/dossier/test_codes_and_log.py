"""Dossier codes, tracking secrets and the hash-chained dossier log."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from services.dossier.domain import codes
from services.dossier.domain.log import GENESIS, entry_hash, first_broken


def test_code_is_agency_day_and_four_digit_sequence():
    code = codes.dossier_code("000.00.01.H29", "210519", 3)
    assert code == "000.00.01.H29-210519-0003"
    assert codes.looks_like_code(code)


def test_code_sequence_grows_past_four_digits_and_still_looks_like_a_code():
    code = codes.dossier_code("000.00.01.H29", "260306", 12345)
    assert code == "000.00.01.H29-260306-12345"
    assert codes.looks_like_code(code)


def test_text_that_is_not_a_code_is_not_taken_for_one():
    for text in ["", "000.00.01.H29", "000.00.01.H29-2105-0003", "000.00.01.h29-210519-0003",
                 "000.00.01.H29-210519-003", "x 000.00.01.H29-210519-0003", "Nguyễn Văn An"]:
        assert not codes.looks_like_code(text), text


def test_code_day_is_the_vietnam_calendar_day():
    assert codes.day_key(datetime(2026, 3, 5, 16, 59, tzinfo=UTC)) == "260305"
    # 17:00 UTC is midnight in Vietnam; 18:00 UTC is already the next day there.
    assert codes.day_key(datetime(2026, 3, 5, 17, 0, tzinfo=UTC)) == "260306"
    assert codes.day_key(datetime(2026, 3, 5, 18, 0, tzinfo=UTC)) == "260306"
    assert codes.day_key(datetime(2026, 12, 31, 18, 0, tzinfo=UTC)) == "270101"


def test_tracking_secret_is_ten_unambiguous_characters_and_unique():
    secrets = [codes.new_tracking_secret() for _ in range(200)]
    for s in secrets:
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{10}", s), s
    assert not set("".join(secrets)) & set("01IO")
    assert len(set(secrets)) == len(secrets)


# --- the hash chain -------------------------------------------------------------------

def chain(n: int) -> list[tuple[dict, str, str]]:
    entries, prev = [], GENESIS
    for i in range(n):
        content = {"dossier_code": "000.00.01.H29-260306-0001", "seq": i + 1,
                   "at": f"2026-03-06T0{i}:00:00.000000+00:00", "action": f"step{i}",
                   "note": f"ghi chú {i}", "status_code": 1}
        digest = entry_hash(prev, content)
        entries.append((content, prev, digest))
        prev = digest
    return entries


def test_a_valid_chain_has_no_broken_entry():
    assert first_broken(chain(5)) is None
    assert first_broken([]) is None


def test_first_entry_links_to_genesis():
    content, prev, _ = chain(1)[0]
    assert prev == GENESIS == "0" * 64


def test_changing_an_entry_note_names_that_entry():
    entries = chain(5)
    content, prev, digest = entries[2]
    entries[2] = ({**content, "note": "đã sửa"}, prev, digest)
    assert first_broken(entries) == 2


def test_rehashing_a_changed_entry_breaks_the_next_one():
    entries = chain(5)
    content, prev, _ = entries[2]
    forged = {**content, "note": "đã sửa"}
    entries[2] = (forged, prev, entry_hash(prev, forged))
    assert first_broken(entries) == 3


def test_deleting_an_entry_names_the_index_where_it_was():
    entries = chain(5)
    del entries[1]
    assert first_broken(entries) == 1
    entries = chain(5)
    del entries[0]
    assert first_broken(entries) == 0


def test_deleting_the_last_entry_cannot_be_seen_by_the_chain_alone():
    # The chain proves order and content, not length: the last entry can be cut off.
    assert first_broken(chain(5)[:-1]) is None


def test_swapping_two_entries_breaks_the_chain():
    entries = chain(4)
    entries[1], entries[2] = entries[2], entries[1]
    assert first_broken(entries) == 1


def test_hash_does_not_depend_on_key_order():
    a = {"seq": 1, "note": "x", "at": "t"}
    b = {"at": "t", "note": "x", "seq": 1}
    assert entry_hash(GENESIS, a) == entry_hash(GENESIS, b)
    assert entry_hash(GENESIS, a) != entry_hash("1" * 64, a)
