"""Ingest end to end: bad items are skipped or noted one by one, the build always finishes, good items are all indexed.

Examples first (each case of issue 11's ingest list, with one and two worker
processes), then properties: random bytes files and random JSON lines.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer import BuildReport, _cli, _store, build_index, current_generation, update_index
from indexer._sources import shown_name
from indexer.article import MAX_TITLE_CHARS
from web import create_app


def fuzz(examples: int) -> settings:
    """``examples`` random builds, no deadline (the first loads jieba), no example database on disk."""
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def stored(index_dir: Path) -> dict[str, dict[str, Any]]:
    """Every indexed article's stored fields, by id."""
    ix = _store.open_generation(current_generation(index_dir))
    with ix.searcher() as searcher:
        return {fields["id"]: fields for fields in searcher.all_stored_fields()}


def jsonl(records: list[dict[str, Any] | str | bytes]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)).encode())
                    + b"\n" for r in records)


GB_TEXT = "哈尔滨冰雪大世界开园\n发布时间：2024-01-05 09:00\n" + "哈尔滨冰雪大世界今天正式开园，游客可以欣赏冰雕雪雕作品。" * 20 + "\n"


def write_bad_corpus(src: Path, outside: Path) -> None:
    """One of each bad input of the ingest cases, each next to good ones."""
    src.mkdir()
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", "utf-8")
    (src / "passwd-link.txt").symlink_to(outside / "passwd")
    (src / "inside-link.txt").symlink_to("good.txt")
    (src / "good.txt").write_text("好新闻\n正文讲述了齐齐哈尔的装备制造业。\n", "utf-8")
    (src / os.fsdecode(b"\xd0\xc2\xce\xc5.txt")).write_text("国标文件名\n正文讲述了长春电影节。\n", "utf-8")
    gb = bytearray(GB_TEXT.encode("gb18030"))
    for k in range(5):
        gb[len(gb) // 2 + 40 * k] = 0xFF
    (src / "gb-damaged.txt").write_bytes(bytes(gb))
    bad_byte = '{"id": "bad-byte", "title": "坏字节", "text": "这一行中间有一个坏字节，其余都是正常的文字。"}'.encode()
    (src / "feed.jsonl").write_bytes(jsonl([
        {"id": "first", "title": "第一条", "text": "成都大熊猫基地迎来新生幼崽。"},
        "[" * 100_000 + "]" * 100_000,
        bad_byte[:70] + b"\xff" + bad_byte[71:],
        {"id": "big-title", "title": "巨" * 1_750_000, "text": "标题有五百万字节的文章，正文讲述了西湖的春天。"},
        '{"id": "half\\ud83d", "title": "半个表情\\udc80", "text": "正文讲述了武汉长江大桥。"}',
        {"id": "last", "title": "最后一条", "text": "南京夫子庙灯会开幕。"},
    ]))


@pytest.mark.parametrize("procs", [1, 2])
def test_error_one_bad_item_of_each_kind_never_aborts_the_build(tmp_path: Path, procs: int) -> None:
    write_bad_corpus(tmp_path / "src", tmp_path / "outside")
    report = build_index([tmp_path / "src"], index_dir=tmp_path / "ix", procs=procs)
    skipped = {s.item: s.reason for s in report.skipped}
    notes: dict[str, list[str]] = {}
    for note in report.notes:
        notes.setdefault(note.item, []).append(note.note)
    assert skipped == {"passwd-link.txt": "symbolic link to a file outside SOURCE",
                       "feed.jsonl:2": "invalid JSON (nested too deeply)"}
    docs = stored(tmp_path / "ix")
    gbk_name = "\\xd0\\xc2\\xce\\xc5.txt"
    assert sorted(docs) == sorted(["good.txt", "inside-link.txt", gbk_name, "gb-damaged.txt", "first", "bad-byte",
                                   "big-title", "half\ufffd", "last"])
    assert report.indexed == len(docs)
    assert docs[gbk_name]["headline"] == "国标文件名" and "undecodable bytes" in notes[gbk_name][0]
    assert docs["gb-damaged.txt"]["headline"] == "哈尔滨冰雪大世界开园"
    assert notes["gb-damaged.txt"][0].endswith("invalid GB18030 byte sequences replaced with U+FFFD")
    assert notes["feed.jsonl:3"][0].endswith("UTF-8 byte sequences replaced with U+FFFD")
    assert docs["bad-byte"]["body"].replace("\ufffd", "").startswith("这一行中间")
    assert len(docs["big-title"]["headline"]) == MAX_TITLE_CHARS
    assert notes["feed.jsonl:4"] == ["title cut to 200 of 1,750,000 characters"]
    assert docs["half\ufffd"]["headline"] == "半个表情\ufffd"
    assert not any("root:x" in d["body"] for d in docs.values())


def test_pages_of_an_article_with_a_5_mb_title_stay_small(tmp_path: Path) -> None:
    src = tmp_path / "big.jsonl"
    src.write_bytes(jsonl([{"id": "big", "title": "巨" * 1_750_000, "text": "标题有五百万字节的文章。", "source": "源" * 100_000}]))
    build_index([src], index_dir=tmp_path / "ix", procs=1)
    client = create_app({"INDEX_DIR": tmp_path / "ix"}).test_client()
    for path in ("/?q=五百万", "/article/big", "/api/search?q=五百万"):
        response = client.get(path, headers={"Host": "localhost"})
        assert response.status_code == 200 and len(response.data) < 20_000, (path, len(response.data))


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, dict[str, Any]]:
    code = _cli.main([str(a) for a in argv] + ["--json"])
    return code, json.loads(capsys.readouterr().out)


def test_follow_symlinks_flag_on_rebuild_and_update(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_bad_corpus(tmp_path / "src", tmp_path / "outside")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "link.txt").symlink_to(tmp_path / "outside" / "passwd")
    code, report = _cli_json(capsys, "rebuild", tmp_path / "src", "--index-dir", tmp_path / "ix", "--procs", "1")
    assert code == _cli.EXIT_SKIPPED
    assert {"item": "passwd-link.txt", "reason": "symbolic link to a file outside SOURCE"} in report["skipped"]
    assert {"item": "feed.jsonl:4", "note": "title cut to 200 of 1,750,000 characters"} in report["notes"]
    code, report = _cli_json(capsys, "update", tmp_path / "more", "--index-dir", tmp_path / "ix")
    assert (code, report["indexed"], report["skipped"][0]["item"]) == (_cli.EXIT_SKIPPED, 0, "link.txt")
    assert "passwd-link.txt" not in stored(tmp_path / "ix")
    code, report = _cli_json(capsys, "rebuild", tmp_path / "src", "--index-dir", tmp_path / "ix", "--procs", "1",
                             "--follow-symlinks")
    assert code == _cli.EXIT_SKIPPED and [s["item"] for s in report["skipped"]] == ["feed.jsonl:2"]
    code, report = _cli_json(capsys, "update", tmp_path / "more", "--index-dir", tmp_path / "ix", "--follow-symlinks")
    assert (code, report["indexed"]) == (_cli.EXIT_OK, 1)
    assert stored(tmp_path / "ix")["link.txt"]["body"].startswith("root:x:0:0")


def test_error_update_skips_bad_items_one_by_one(tmp_path: Path) -> None:
    build_index([_write(tmp_path / "a.jsonl", [{"id": "a", "title": "原有", "text": "原有的文章。"}])], index_dir=tmp_path / "ix", procs=1)
    more = tmp_path / "more"
    more.mkdir()
    (more / os.fsdecode(b"\xff-new.txt")).write_text("新的文章\n文件名不是UTF-8。\n", "utf-8")
    _write(more / "b.jsonl", ['{"id": "b\\udc80", "title": "半个字符", "text": "正文。"}', "[" * 50_000, {"id": "c", "text": "丙。"}])
    report = update_index([more], index_dir=tmp_path / "ix")
    assert [(s.item, s.reason) for s in report.skipped] == [("b.jsonl:2", "invalid JSON (nested too deeply)")]
    assert sorted(stored(tmp_path / "ix")) == ["\\xff-new.txt", "a", "b\ufffd", "c"]


def _write(path: Path, records: list[dict[str, Any] | str | bytes]) -> Path:
    path.write_bytes(jsonl(records))
    return path


# ---- properties -------------------------------------------------------------------------------------

GOOD_FILES = {
    "good-a.txt": ("齐齐哈尔装备制造", "齐齐哈尔装备制造\n发布时间:2024-05-01 08:00:00\n齐齐哈尔的装备制造业持续发展，带动就业。\n"),
    "good-b.html": ("广州地铁新线开通", "<html><head><title>广州地铁新线开通</title></head><body><article><h1>广州地铁新线开通</h1>"
                    "<p>广州地铁十八号线今天开通运营，乘客从南沙到市中心只要半小时左右，沿线居民出行更加方便。</p></article></body></html>"),
}
GOOD_RECORDS = [{"id": "good-1", "title": "成都大熊猫基地", "text": "成都大熊猫繁育研究基地迎来两只新生幼崽。"},
                {"id": "good-2", "title": "杭州西湖春景", "text": "杭州西湖的春天景色吸引了很多游客。"}]
CHINESE = "经济合作发展城市农业科技教育医疗交通铁路港口能源电力水利环境保护文化旅游体育市场企业投资"
TEXTS = st.one_of(
    st.text(CHINESE + "，。\n abc", min_size=1, max_size=200).map(lambda t: t.encode("utf-8")),
    st.text(CHINESE + "，。\n", min_size=1, max_size=200).map(lambda t: t.encode("gb18030")),
)


@st.composite
def damaged(draw: st.DrawFn, data: st.SearchStrategy[bytes]) -> bytes:
    """Bytes from ``data`` with a few of them overwritten by random ones."""
    raw = bytearray(draw(data))
    for _ in range(draw(st.integers(0, 3)) if raw else 0):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


FILE_BYTES = st.one_of(st.binary(max_size=400), damaged(TEXTS))
FILE_NAMES = st.tuples(st.text("abcxyz中文-_ ", min_size=1, max_size=6), st.one_of(st.none(), st.integers(0x80, 0xFF)),
                       st.sampled_from([".txt", ".html", ".htm", ".xml", ".dat", "", ".md"]))


def _name(stem: str, raw_byte: int | None, suffix: str) -> bytes:
    return stem.encode() + (bytes([raw_byte]) if raw_byte is not None else b"") + suffix.encode()


def _file_name(file: tuple[tuple[str, int | None, str], bytes]) -> bytes:
    return _name(*file[0])


def _build(src: Path, index_dir: Path, procs: int) -> BuildReport:
    return build_index([src], index_dir=index_dir, procs=procs)


def _attributed(report: BuildReport, docs: dict[str, dict[str, Any]], item: str) -> list[str]:
    """What became of ``item`` (a file or ``file:line``): 'indexed' or 'skipped', once per record it held
    (a file of Sogou ``<doc>`` records holds several, ``file#1``…)."""
    def mine(name: str) -> bool:
        return name == item or name.startswith(item + "#")

    return (["indexed" for d in docs.values() if mine(d.get("origin") or d["id"])]
            + ["skipped" for s in report.skipped if mine(s.item)])


def _records_in(report: BuildReport, docs: dict[str, dict[str, Any]], item: str) -> bool:
    return any(name.startswith(item + "#") for name in [*(d.get("origin") or "" for d in docs.values()),
                                                         *(s.item for s in report.skipped)])


@fuzz(12)
@given(files=st.lists(st.tuples(FILE_NAMES, FILE_BYTES), max_size=5, unique_by=_file_name), procs=st.sampled_from([1, 2]))
def test_random_bytes_files_never_stop_the_build(files: list[tuple[tuple[str, int | None, str], bytes]], procs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "src")
        src.mkdir()
        for name, (_title, text) in GOOD_FILES.items():
            (src / name).write_text(text, "utf-8")
        _write(src / "good.jsonl", list(GOOD_RECORDS))
        for name, data in files:
            with open(os.path.join(os.fsencode(src), _name(*name)), "wb") as fh:
                fh.write(data)
        report = _build(src, Path(tmp, "ix"), procs)
        docs = stored(Path(tmp, "ix"))
    for name, (title, _text) in GOOD_FILES.items():
        assert docs[name]["headline"] == title
    for record in GOOD_RECORDS:
        assert docs[record["id"]]["headline"] == record["title"] and docs[record["id"]]["body"] == record["text"]
    assert report.indexed == len(docs)
    assert all(n == 1 for n in Counter(s.item for s in report.skipped).values()), report.skipped
    for name, _data in files:
        item = shown_name(os.fsdecode(_name(*name)))
        fates = _attributed(report, docs, item)
        assert fates in (["indexed"], ["skipped"]) or (fates and _records_in(report, docs, item)), (item, fates)


def _good_line(n: int) -> tuple[str, bytes, dict[str, str]]:
    record = {"id": f"good-{n}", "title": f"第{n}条新闻：{CHINESE[n % 20:n % 20 + 6]}", "text": f"第{n}条新闻的正文讲述{CHINESE[n % 30:]}。"}
    return "good", json.dumps(record, ensure_ascii=False).encode(), record


LINES = st.one_of(
    st.integers(0, 10**6).map(_good_line),
    st.binary(min_size=1, max_size=80).filter(lambda b: b"\n" not in b and b.strip()).map(lambda b: ("garbage", b, None)),
    st.sampled_from([2_000, 100_000]).map(lambda d: ("bad", b"[" * d + b"]" * d, None)),
    st.sampled_from([b"[1, 2]", b'"text"', b"42", b"null", b'{"id": "x", "text": ""}', b'{"n": ' + b"9" * 5000 + b"}"]).map(
        lambda b: ("bad", b, None)),
    st.integers(0, 10**6).map(_good_line).flatmap(lambda g: damaged(st.just(g[1])).map(lambda b: ("damaged", b, g[2]))),
    st.integers(0, 10**6).map(_good_line).map(lambda g: ("gb", g[1].decode().encode("gb18030"), g[2])),
    st.integers(0, 10**6).map(lambda n: ("noted", json.dumps({"id": f"odd-{n}", "title": "\\ud83d" * 3 + "巨" * 300,
                                                            "text": "正文\\udc80讲述了城市。"}).replace("\\\\", "\\").encode(), None)),
)


@fuzz(25)
@given(lines=st.lists(LINES, min_size=1, max_size=12), procs=st.sampled_from([1, 2]))
def test_random_json_lines_never_stop_the_build(lines: list[tuple[str, bytes, dict[str, str] | None]], procs: int) -> None:
    seen: set[str] = set()
    unique = []
    for kind, raw, record in lines:  # one line per id: a repeated id is another test's business
        key = record["id"] if record else raw.decode("latin-1")
        if key not in seen:
            seen.add(key)
            unique.append((kind, raw, record))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "feed.jsonl")
        path.write_bytes(b"".join(raw + b"\n" for _kind, raw, _record in unique))
        report = _build(path, Path(tmp, "ix"), procs)
        docs = stored(Path(tmp, "ix"))
    by_origin = {d["origin"]: d for d in docs.values()}
    noted = {n.item for n in report.notes}
    assert all(n == 1 for n in Counter(s.item for s in report.skipped).values()), report.skipped
    for lineno, (kind, raw, record) in enumerate(unique, 1):
        where = f"feed.jsonl:{lineno}"
        fates = _attributed(report, docs, where)
        if not raw.strip():
            assert fates == []
            continue
        assert fates in (["indexed"], ["skipped"]), (where, kind, raw[:80], fates)
        if kind == "good" or (kind == "gb" and fates == ["indexed"]):
            # Indexed as written (a GB18030 line in a UTF-8 file is skipped, never read as mojibake).
            assert fates == ["indexed"], (where, report.skipped)
            doc = by_origin[where]
            assert record is not None and (doc["id"], doc["headline"], doc["body"]) == (record["id"], record["title"], record["text"])
        elif kind == "bad":
            assert fates == ["skipped"]
        elif kind == "noted":
            assert fates == ["indexed"] and where in noted
            assert len(by_origin[where]["headline"]) == MAX_TITLE_CHARS
