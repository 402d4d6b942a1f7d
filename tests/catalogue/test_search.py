"""Catalogue search (the service's in-memory index built from the database), procedures and
agencies on the real seed data, on both backends."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from services.catalogue.app.index import build
from services.catalogue.app.queries import get_agency, get_procedure, list_agencies
from services.catalogue.app.seed import SEED_DIR, seed_if_empty
from services.catalogue.domain import demo
from services.catalogue.domain.text import fold
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


@pytest.fixture
async def index(seeded):
    """The search index as the service builds it from this backend's database."""
    return await build(seeded)


PUBLISHED = [r for r in RECORDS if r.get("documents") and r.get("level")]


async def search_procedures(index, *, query="", limit=20, offset=0, **kw):
    hits, total = index.search(query, limit=max(1, min(limit or 20, 100)), offset=offset, **kw)
    return [h.entry for h in hits], total


async def search(index, query="", **kw):
    rows, total = await search_procedures(index, query=query, **kw)
    return [r.name for r in rows], total


async def test_khai_sinh_finds_birth_registration_first_whatever_the_case(index):
    lower, total = await search(index, "khai sinh")
    upper, upper_total = await search(index, "KHAI SINH")
    assert lower[0] == "Thủ tục đăng ký khai sinh"
    assert lower == upper and total == upper_total
    assert {"Thủ tục đăng ký khai sinh có yếu tố nước ngoài", "Thủ tục đăng ký lại khai sinh"} <= set(lower)
    assert total == len(lower)


async def test_unaccented_dang_ky_ket_hon_finds_marriage_registration_first(index):
    names, total = await search(index, "dang ky ket hon")
    assert names[0] == "Thủ tục đăng ký kết hôn"
    assert "Thủ tục đăng ký kết hôn có yếu tố nước ngoài" in names[:2]
    assert total == len(names)


async def test_a_match_in_the_name_ranks_before_a_match_elsewhere(index):
    rows, _ = await search_procedures(index, query="hộ tịch", limit=100)
    in_name = ["ho tich" in fold(r.name) for r in rows]
    assert True in in_name and False in in_name, "the seed should have both kinds of match"
    # Every name match comes before every match found only in the sector or result.
    assert in_name == sorted(in_name, reverse=True)


@pytest.mark.parametrize("accented,plain", [
    ("đăng ký kết hôn", "dang ky ket hon"),
    ("Khai Sinh", "khai sinh"),
    ("ĐĂNG KÝ LẠI KHAI SINH", "dang ky lai khai sinh"),
    ("hộ tịch", "ho tich"),
])
async def test_accented_and_unaccented_queries_give_the_same_results(index, accented, plain):
    a = await search(index, accented)
    b = await search(index, plain)
    assert a == b
    assert a[1] > 0


async def test_underscore_in_a_query_is_a_literal_not_a_one_character_wildcard(index):
    assert await search(index, "kh_i sinh") == ([], 0)
    assert await search(index, "_") == ([], 0)
    assert (await search(index, "khai sinh"))[1] > 0


async def test_percent_in_a_query_is_not_a_wildcard(index):
    # "%" is punctuation to the search; it never reaches LIKE as "match anything".
    assert await search(index, "k%n sinh") == await search(index, "k n sinh")
    # Inside a word it separates words, like a space.
    assert await search(index, "kết%hôn") == await search(index, "kết hôn")
    assert (await search(index, "kết%hôn"))[0][0] == "Thủ tục đăng ký kết hôn"
    assert await search(index, "zz%zz") == ([], 0)


async def test_filter_by_level_keeps_only_that_level(index):
    expected = Counter(r.get("level") for r in PUBLISHED)
    for level in ["commune", "province", "ministry"]:
        rows, total = await search_procedures(index, query="", level=level, limit=100)
        assert total == len(rows) == expected[level]
        assert {r.level for r in rows} == {level}
    rows, total = await search_procedures(index, query="khai sinh", level="province", limit=100)
    assert total == len(rows) and {r.level for r in rows} <= {"province"}
    assert "Thủ tục đăng ký khai sinh" not in [r.name for r in rows]


async def test_pages_cover_all_results_once_in_order(index):
    everything, total = await search(index, "", limit=100)
    assert total == len(PUBLISHED) == len(everything)
    pages = []
    for offset in range(0, total, 10):
        names, page_total = await search(index, "", offset=offset, limit=10)
        assert page_total == total
        assert len(names) == min(10, total - offset)
        pages += names
    assert pages == everything
    assert await search(index, "", offset=total, limit=10) == ([], total)


async def test_page_size_is_bounded(index):
    assert len((await search(index, "", limit=0))[0]) == 20
    assert len((await search(index, "", limit=1000))[0]) == min(100, len(PUBLISHED))


async def test_an_overlong_query_is_invalid_input(index):
    with pytest.raises(InvalidInput) as err:
        await search(index, "a" * 201)
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
        assert set(birth.data["demo_fields"]) == {"online", "processing_time.unit", "applicant_types",
                                                  "documents.mandatory", "workflow", "eform_schema"}

        for record in PUBLISHED:
            row = await get_procedure(s, record["code"])
            assert row.data.get("sources") == record.get("sources"), record["code"]
            if record.get("online") is None:
                assert "online" in row.data["demo_fields"]
                assert row.online_mode == ("full" if "Trực tuyến" in (record.get("channels") or []) else "none")
            unit = (record.get("processing_time") or {}).get("unit")
            if unit:
                assert row.data["processing_time"]["unit"] == unit
                assert "processing_time.unit" not in row.data["demo_fields"]


async def test_agencies_are_the_city_its_18_departments_and_boards_and_168_communes(seeded):
    async with seeded() as s:
        city = await list_agencies(s, kind="city")
        departments = await list_agencies(s, kind="department") + await list_agencies(s, kind="board")
        communes = await list_agencies(s, kind="commune")
        children = await list_agencies(s, parent_code=demo.CITY_CODE)
    assert len(city) == 1 and len(departments) == 18 and len(communes) == 168
    assert [a.name for a in departments if a.kind == "board"] == [
        "Ban Quản lý các Khu chế xuất và công nghiệp Thành phố Hồ Chí Minh"]
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
async def test_filter_by_sector_ignores_case(index, sector, expected):
    count = sum(1 for r in PUBLISHED if r.get("sector") == expected)
    rows, total = await search_procedures(index, query="", sector=sector, limit=100)
    assert total == len(rows) == count > 0
    assert {r.sector for r in rows} == {expected}


async def test_the_record_without_documents_or_level_is_seeded_as_a_draft_not_published(seeded, index):
    # 1.014199 has only a code and a name on the portal: a city admin must complete it first.
    async with seeded() as s:
        row = await get_procedure(s, "1.014199", version=1)
        assert row.status == "draft"
        with pytest.raises(NotFound):
            await get_procedure(s, "1.014199")
    assert await search(index, "1.014199") == ([], 0)


@pytest.mark.parametrize("typo,expected", [
    ("dang ky khai sinhh", "Thủ tục đăng ký khai sinh"),
    ("ket hong", "Thủ tục đăng ký kết hôn"),
    ("đăng ký kết hông", "Thủ tục đăng ký kết hôn"),
    ("giay phep lai xee", "Cấp giấy phép lái xe"),
])
async def test_a_query_with_one_typo_still_finds_the_procedure_first(index, typo, expected):
    names, total = await search(index, typo)
    assert names and names[0] == expected, names
    assert total == len(names)


async def test_typo_matches_are_not_mixed_into_exact_results(index):
    # "khai" is one letter from "hai" ("hai thành viên"): with exact matches found, no typo noise.
    names, _ = await search(index, "khai sinh", limit=100)
    assert all("khai sinh" in fold(n) or "khai sinh" not in fold(n) and "Giấy khai sinh" in n for n in names)
    assert not any("hai thành viên" in n for n in names)


async def test_a_procedure_code_finds_that_procedure(index):
    assert (await search(index, "1.001193"))[0] == ["Thủ tục đăng ký khai sinh"]


async def test_filter_by_online_mode_and_agency(index, seeded):
    rows, total = await search_procedures(index, online_mode="none", limit=100)
    assert total == len(rows) > 0 and {r.online_mode for r in rows} == {"none"}
    async with seeded() as s:
        saigon = next(a for a in await list_agencies(s, kind="commune") if a.name == "Phường Sài Gòn")
        finance = next(a for a in await list_agencies(s, kind="department") if a.name == "Sở Tài chính")
    # A commune offers every commune-level procedure that is filed at the applicant's commune.
    rows, total = await search_procedures(index, agency_code=saigon.code, limit=100)
    assert total == len(rows) > 0 and {(r.level, r.agency_code) for r in rows} == {("commune", "")}
    names = [r.name for r in (await search_procedures(index, query="khai sinh", agency_code=saigon.code))[0]]
    assert names[0] == "Thủ tục đăng ký khai sinh"
    rows, total = await search_procedures(index, agency_code=finance.code, limit=100)
    assert total == len(rows) == 4 and {r.agency_code for r in rows} == {finance.code}
    assert await search(index, "khai sinh", agency_code=finance.code) == ([], 0)
    assert await search(index, "", agency_code="999.99.99.H29") == ([], 0)


async def test_pages_of_a_query_cover_its_results_once_in_rank_order(index):
    everything, total = await search(index, "dang ky", limit=100)
    assert total == len(everything) > 10
    pages = []
    for offset in range(0, total, 7):
        names, page_total = await search(index, "dang ky", offset=offset, limit=7)
        assert page_total == total
        pages += names
    assert pages == everything
