"""Catalogue search, procedures and agencies on the real seed data, on both backends."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from services.catalogue.app.queries import get_agency, get_procedure, list_agencies, search_procedures
from services.catalogue.app.seed import SEED_DIR, seed_if_empty
from services.catalogue.domain import demo
from services.catalogue.store.models import Agency, Procedure
from services.platform.db import make_engine, session_factory, upgrade_to_head
from services.platform.errors import InvalidInput, NotFound
from tests.conftest import MIGRATIONS

RECORDS = json.loads((SEED_DIR / "procedures.json").read_text(encoding="utf-8"))
AGENCY_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.H29$")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def catalogue_url(request, tmp_path_factory):
    """One migrated and seeded catalogue per backend, shared by the read-only tests below."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('catalogue') / 'catalogue.db'}"
    else:
        pg = request.getfixturevalue("postgres")
        name = f"catalogue_{uuid.uuid4().hex[:12]}"
        pg.create_database(name)
        url = pg.url(name)
    upgrade_to_head(MIGRATIONS["catalogue"], url)

    async def seed():
        engine = make_engine(url)
        try:
            async with session_factory(engine)() as s:
                assert await seed_if_empty(s) is True
        finally:
            await engine.dispose()

    asyncio.run(seed())
    return url


@pytest.fixture
async def seeded(catalogue_url):
    engine = make_engine(catalogue_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def search(sessions, query="", **kw):
    async with sessions() as s:
        rows, total = await search_procedures(s, query=query, **kw)
    return [r.name for r in rows], total


async def test_khai_sinh_finds_birth_registration_first_whatever_the_case(seeded):
    lower, total = await search(seeded, "khai sinh")
    upper, upper_total = await search(seeded, "KHAI SINH")
    assert lower[0] == "Thủ tục đăng ký khai sinh"
    assert lower == upper and total == upper_total
    assert {"Thủ tục đăng ký khai sinh có yếu tố nước ngoài", "Thủ tục đăng ký lại khai sinh"} <= set(lower)
    assert total == len(lower)


async def test_unaccented_dang_ky_ket_hon_finds_marriage_registration_first(seeded):
    names, total = await search(seeded, "dang ky ket hon")
    assert names[0] == "Thủ tục đăng ký kết hôn"
    assert "Thủ tục đăng ký kết hôn có yếu tố nước ngoài" in names[:2]
    assert total == len(names)


async def test_a_match_in_the_name_ranks_before_a_match_elsewhere(seeded):
    async with seeded() as s:
        rows, _ = await search_procedures(s, query="hộ tịch", limit=100)
    in_name = ["ho tich" in r.name_folded for r in rows]
    assert True in in_name and False in in_name, "the seed should have both kinds of match"
    # Every name match comes before every match found only in the sector or result.
    assert in_name == sorted(in_name, reverse=True)


@pytest.mark.parametrize("accented,plain", [
    ("đăng ký kết hôn", "dang ky ket hon"),
    ("Khai Sinh", "khai sinh"),
    ("ĐĂNG KÝ LẠI KHAI SINH", "dang ky lai khai sinh"),
    ("hộ tịch", "ho tich"),
])
async def test_accented_and_unaccented_queries_give_the_same_results(seeded, accented, plain):
    a = await search(seeded, accented)
    b = await search(seeded, plain)
    assert a == b
    assert a[1] > 0


async def test_underscore_in_a_query_is_a_literal_not_a_one_character_wildcard(seeded):
    assert await search(seeded, "kh_i sinh") == ([], 0)
    assert await search(seeded, "_") == ([], 0)
    assert (await search(seeded, "khai sinh"))[1] > 0


async def test_percent_in_a_query_is_not_a_wildcard(seeded):
    # "%" is punctuation to the search; it never reaches LIKE as "match anything".
    assert await search(seeded, "k%n sinh") == await search(seeded, "k n sinh")
    # Inside a word it separates words, like a space.
    assert await search(seeded, "kết%hôn") == await search(seeded, "kết hôn")
    assert (await search(seeded, "kết%hôn"))[0][0] == "Thủ tục đăng ký kết hôn"
    assert await search(seeded, "zz%zz") == ([], 0)


async def test_filter_by_level_keeps_only_that_level(seeded):
    expected = Counter(r.get("level") for r in RECORDS)
    for level in ["commune", "province", "ministry"]:
        async with seeded() as s:
            rows, total = await search_procedures(s, query="", level=level, limit=100)
        assert total == len(rows) == expected[level]
        assert {r.level for r in rows} == {level}
    async with seeded() as s:
        rows, total = await search_procedures(s, query="khai sinh", level="province", limit=100)
    assert total == len(rows) and {r.level for r in rows} <= {"province"}
    assert "Thủ tục đăng ký khai sinh" not in [r.name for r in rows]


async def test_pages_cover_all_results_once_in_order(seeded):
    everything, total = await search(seeded, "", limit=100)
    assert total == len(RECORDS) == len(everything)
    pages = []
    for offset in range(0, total, 10):
        names, page_total = await search(seeded, "", offset=offset, limit=10)
        assert page_total == total
        assert len(names) == min(10, total - offset)
        pages += names
    assert pages == everything
    assert await search(seeded, "", offset=total, limit=10) == ([], total)


async def test_page_size_is_bounded(seeded):
    assert len((await search(seeded, "", limit=0))[0]) == 20
    assert len((await search(seeded, "", limit=1000))[0]) == min(100, len(RECORDS))


async def test_an_overlong_query_is_invalid_input(seeded):
    with pytest.raises(InvalidInput) as err:
        await search(seeded, "a" * 201)
    assert "q" in err.value.fields


@pytest.fixture
def fresh_url(migrated):
    return migrated("catalogue")


async def test_seeding_an_empty_catalogue_once_and_twice_does_not_duplicate(fresh_url):
    engine = make_engine(fresh_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as s:
            assert await seed_if_empty(s) is True
        async with sessions() as s:
            assert await seed_if_empty(s) is False
        async with sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Procedure)) == len(RECORDS)
            assert await s.scalar(select(func.count()).select_from(Agency)) == 1 + 18 + 168
    finally:
        await engine.dispose()


async def test_an_unknown_procedure_code_is_not_found(seeded):
    async with seeded() as s:
        with pytest.raises(NotFound):
            await get_procedure(s, "9.999999")
        with pytest.raises(NotFound):
            await get_procedure(s, "1.001193", version=2)
        with pytest.raises(NotFound):
            await get_agency(s, "999.99.99.H29")


async def test_the_seed_keeps_sources_and_marks_what_it_filled_as_demo(seeded):
    async with seeded() as s:
        birth = await get_procedure(s, "1.001193")
        assert birth.name == "Thủ tục đăng ký khai sinh" and birth.version == 1
        assert birth.status == "published"
        source = next(r for r in RECORDS if r["code"] == "1.001193")
        assert source["online"] is None and source["processing_time"]["unit"] is None
        assert birth.data["sources"] == source["sources"] and birth.data["sources"]
        # The portal publishes no online mode: filled from the channels, and flagged.
        assert birth.online_mode == birth.data["online"] == "full"
        assert birth.data["processing_time"]["unit"] == "working_day"
        assert birth.data["processing_time"]["value"] == 1
        assert set(birth.data["demo_fields"]) == {"online", "processing_time.unit"}

        for record in RECORDS:
            row = await get_procedure(s, record["code"])
            assert row.data.get("sources") == record.get("sources"), record["code"]
            if record.get("online") is None:
                assert "online" in row.data["demo_fields"]
                assert row.online_mode == ("full" if "Trực tuyến" in (record.get("channels") or []) else "none")
            unit = (record.get("processing_time") or {}).get("unit")
            if unit:
                assert row.data["processing_time"]["unit"] == unit
                assert "processing_time.unit" not in row.data["demo_fields"]


async def test_agencies_are_the_city_its_18_departments_and_168_communes(seeded):
    async with seeded() as s:
        city = await list_agencies(s, kind="city")
        departments = await list_agencies(s, kind="department")
        communes = await list_agencies(s, kind="commune")
        children = await list_agencies(s, parent_code=demo.CITY_CODE)
    assert len(city) == 1 and len(departments) == 18 and len(communes) == 168
    assert city[0].code == "000.00.00.H29" and city[0].demo_code is False
    assert len(children) == 18 + 168
    codes = [a.code for a in city + departments + communes]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) <= 35 and AGENCY_CODE.match(code), code
    # The seed publishes no codes for departments and communes: every one is a demo code.
    assert all(a.demo_code for a in departments + communes)
    assert {a.data["admin_unit_code"] for a in communes} and all(a.data.get("sources") for a in communes)


# SQL lower() folds only ASCII letters on SQLite (and on PostgreSQL under the C locale); the
# filter must still find a sector that starts with "Đ".


@pytest.mark.parametrize("sector,expected", [
    ("Hộ tịch", "Hộ tịch"),
    ("hộ tịch", "Hộ tịch"),
    ("HỘ TỊCH", "Hộ tịch"),
    ("Đất đai", "Đất đai"),
    ("Đăng ký, quản lý cư trú", "Đăng ký, quản lý cư trú"),
])
async def test_filter_by_sector_ignores_case(seeded, sector, expected):
    count = sum(1 for r in RECORDS if r.get("sector") == expected)
    async with seeded() as s:
        rows, total = await search_procedures(s, query="", sector=sector, limit=100)
    assert total == len(rows) == count > 0
    assert {r.sector for r in rows} == {expected}
