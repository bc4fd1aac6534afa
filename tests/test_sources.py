"""Reading articles as they come: raw page text, JSON lines, Sogou records, encodings, bad input."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from indexer import Article, ArticleParseError, Skipped, parse_article, read_sources
from indexer._decode import UndecodableError, decode_bytes
from tests.conftest import read_jsonl, require_data

SEED_000 = "000_601d9bb788b1b65f.txt"
SEED_002 = "002_9c361715a5427a4e.txt"


def articles(items: list[Article | Skipped]) -> list[Article]:
    return [i for i in items if isinstance(i, Article)]


def skipped(items: list[Article | Skipped]) -> list[Skipped]:
    return [i for i in items if isinstance(i, Skipped)]


def test_seed_002_field_by_field(seeds_dir: Path) -> None:
    a = parse_article(seeds_dir / SEED_002)
    assert a.id == SEED_002
    assert a.title == "牡丹江市与东莞市对口合作走深走实"
    assert a.published == datetime(2023, 3, 28, 9, 25, 56)
    assert a.source == "黑龙江日报"
    assert a.editor == "刘才星"
    assert a.author == "刘晓云"
    assert a.original_title is not None and a.original_title.startswith("龙粤合作巡礼之三")
    assert not a.title_derived
    # The body starts with the first paragraph and holds no navigation, credit or boilerplate.
    assert a.body.startswith("“牡丹江的旅游资源")
    assert a.body.endswith("等领域的合作发展。")
    for junk in ("国际在线", "版权", "城市远洋", "原标题", "黑龙江日报记者", "编辑:", "责编"):
        assert junk not in a.body


def test_seed_000_field_by_field(seeds_dir: Path) -> None:
    a = parse_article(seeds_dir / SEED_000)
    assert a.title == "携手记|千年商都+大国重器,穗鹤合作焕发新活力"
    assert a.published == datetime(2024, 10, 18, 15, 50, 15)
    assert a.source == "南方网"
    assert a.category == "时政要闻"
    assert a.author == "张治伊"
    assert a.body.startswith("编者按:")
    assert a.body.endswith("作出新的更大贡献。")
    for junk in ("当前位置", "发布时间", "统筹", "策划", "撰文", "来源:南方网", "版权所有", "gdtb2020", "台湾事务办公室"):
        assert junk not in a.body


def test_seed_bodies_keep_every_paragraph(seeds_dir: Path) -> None:
    raw = (seeds_dir / SEED_000).read_text("utf-8")
    body = parse_article(seeds_dir / SEED_000).body
    paragraphs = [p for p in raw.split("\n") if len(p) > 60]
    assert all(p.strip() in body for p in paragraphs)


def test_boilerplate_repeated_across_a_folder_is_dropped(tmp_path: Path) -> None:
    footer = "本站所有内容未经许可不得转载 联系电话 010-00000000"
    for n in range(4):
        (tmp_path / f"{n}.txt").write_text(f"第{n}篇标题\n发布时间:2024-01-0{n + 1} 10:00:00\n正文第{n}段，讲述城市发展。\n{footer}\n", "utf-8")
    found = articles(list(read_sources([tmp_path])))
    assert len(found) == 4
    assert all(footer not in a.body and "正文" in a.body for a in found)


def test_cctv_jsonl_keeps_record_ids() -> None:
    path = require_data("cctv-xwlb", "articles.jsonl")
    expected = read_jsonl(path)[:50]
    small = Path(path)
    got = []
    for item in read_sources([small]):
        got.append(item)
        if len(got) == 50:
            break
    assert [a.id for a in articles(got)] == [r["id"] for r in expected]
    first = articles(got)[0]
    assert first.title == expected[0]["title"]
    assert first.source == expected[0]["source"]
    assert first.published is not None and first.published.date().isoformat() == expected[0]["date"]


def test_sogou_records_in_gb18030() -> None:
    raw = require_data("sogou-news-sample", "raw")
    reference = {r["id"]: r for r in read_jsonl(require_data("sogou-news-sample", "articles.jsonl"))}
    items = list(read_sources([raw]))
    found = articles(items)
    assert len(found) + len(skipped(items)) == len(reference)
    with_text = [r for r in reference.values() if r["text"].strip()]
    assert len(found) >= len(with_text)
    for article in found[:40]:
        ref = reference[article.id]
        assert article.title == (ref["title"] or "").strip() or article.title_derived
        if ref["text"].strip():
            assert "".join(article.body.split())[:50] == "".join(ref["text"].split())[:50]
        assert article.source == ref["source"]


@pytest.mark.parametrize("folder", ["GB2312", "Big5"])
def test_legacy_encodings_decode(folder: str) -> None:
    base = require_data("legacy-encoding-zh")
    rows = [r for r in read_jsonl(base / "index.jsonl") if str(r["file"]).startswith(folder + "/")]
    assert rows
    for row in rows:
        data = (base / str(row["file"])).read_bytes()
        text, _ = decode_bytes(data)
        assert text == data.decode(str(row["decodes_with"])), row["file"]


def test_error_euc_tw_is_reported_not_garbled() -> None:
    base = require_data("legacy-encoding-zh", "EUC-TW")
    for path in base.iterdir():
        with pytest.raises(UndecodableError):
            decode_bytes(path.read_bytes())


@pytest.mark.parametrize("name", ["163_9.html", "hexun_1.html", "people_1.html"])
def test_lying_meta_charset_is_ignored_for_valid_utf8(name: str) -> None:
    data = require_data("gne-news-html", "html", name).read_bytes()
    assert decode_bytes(data)[1] == "utf-8"


def test_encodings_of_one_article(tmp_path: Path) -> None:
    text = "齐齐哈尔装备制造\n发布时间:2024-05-01 08:00:00\n齐齐哈尔的装备制造业持续发展，带动就业。\n"
    (tmp_path / "utf8bom.txt").write_bytes("\ufeff".encode() + text.encode("utf-8"))
    (tmp_path / "gb.txt").write_bytes(text.encode("gb18030"))
    traditional = "齊齊哈爾裝備製造\n發佈時間:2024-05-01 08:00:00\n齊齊哈爾的裝備製造業持續發展，帶動就業。\n"
    (tmp_path / "big5.txt").write_bytes(traditional.encode("big5"))
    found = {a.id: a for a in articles(list(read_sources([tmp_path])))}
    assert set(found) == {"utf8bom.txt", "gb.txt", "big5.txt"}
    assert found["utf8bom.txt"].title == found["gb.txt"].title == "齐齐哈尔装备制造"
    assert found["big5.txt"].title == "齊齊哈爾裝備製造"
    assert all(a.published == datetime(2024, 5, 1, 8) for a in found.values())


def test_jsonl_fields_and_fallbacks(tmp_path: Path) -> None:
    lines = [
        {"id": "a1", "title": "标题一", "text": "正文一。", "date": "2024-02-03", "source": "来源甲", "category": "经济", "url": "http://x/1", "author": "张三"},
        {"id": 7, "title": "标题二", "body": "正文二。", "published": "2024-02-04T10:11:12"},
        {"id": "a3", "content": "没有标题的文章。第二句。"},
        {"id": "a4", "title": "日期不可能", "text": "正文。", "date": "2023-02-30"},
    ]
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", "utf-8")
    got = {a.id: a for a in articles(list(read_sources([path])))}
    assert got["a1"].source == "来源甲" and got["a1"].category == "经济" and got["a1"].author == "张三"
    assert got["7"].body == "正文二。" and got["7"].published == datetime(2024, 2, 4, 10, 11, 12)
    assert got["a3"].title_derived and got["a3"].title == "没有标题的文章"
    assert got["a4"].published is None


def test_error_bad_inputs_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("好标题\n发布时间:2024-01-01 00:00:00\n好的正文内容。\n", "utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (tmp_path / "blank.txt").write_text("\n\n   \n", "utf-8")
    (tmp_path / "bad.jsonl").write_text('{"id": "ok", "title": "好", "text": "正文"}\n{not json\n[1, 2]\n{"id": "empty", "text": ""}\n', "utf-8")
    (tmp_path / "cut.txt").write_bytes("截断的国标文本测试".encode("gb18030")[:-1] + b"\x81")
    items = list(read_sources([tmp_path, tmp_path / "missing-folder"]))
    reasons = {s.item: s.reason for s in skipped(items)}
    assert {a.id for a in articles(items)} >= {"good.txt", "ok"}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "unsupported file type" in reasons["image.png"]
    assert reasons["blank.txt"] == "no text"
    assert "invalid JSON" in reasons["bad.jsonl:2"]
    assert "not a JSON object" in reasons["bad.jsonl:3"]
    assert reasons["bad.jsonl:4"] == "no text"
    assert "no such file" in reasons[str(tmp_path / "missing-folder")]
    assert all(isinstance(r, str) and "\n" not in r for r in reasons.values())


def test_error_parse_article_raises_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ArticleParseError) as info:
        parse_article(path)
    assert info.value.reason == "empty file"


def test_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("标题\n正文内容。\n", "utf-8")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = articles(list(read_sources([tmp_path])))
    assert [a.id for a in found] == ["a.txt"]


# ---- one bad item never stops the others ------------------------------------------------------------


def test_error_deep_and_oversized_json_lines_are_skipped_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join([
        '{"id": "before", "title": "前", "text": "深层嵌套之前的记录。"}',
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 100_000 + "1" + "}" * 100_000,
        '{"id": "x", "text": "大数。", "n": ' + "9" * 5000 + "}",
        '{"id": "after", "title": "后", "text": "深层嵌套之后的记录。"}',
    ]) + "\n", "utf-8")
    items = list(read_sources([path]))
    reasons = {s.item: s.reason for s in skipped(items)}
    assert [a.id for a in articles(items)] == ["before", "after"]
    assert reasons["feed.jsonl:2"] == reasons["feed.jsonl:3"] == "invalid JSON (nested too deeply)"
    assert reasons["feed.jsonl:4"].startswith("invalid JSON (Exceeds the limit (4300 digits)")


def test_non_utf8_file_name_is_indexed_under_an_escaped_id(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "子目录").mkdir(parents=True)
    name = os.fsdecode(b"\xd0\xc2\xce\xc5-gbk.txt")  # 新闻 in GBK: not UTF-8
    (src / "子目录" / name).write_text("国标文件名的新闻\n正文讲述了长春的冬天。\n", "utf-8")
    (src / os.fsdecode(b"\xff.txt")).write_bytes(b"")
    items = list(read_sources([src]))
    (article,) = articles(items)
    assert article.id == article.origin == "子目录/\\xd0\\xc2\\xce\\xc5-gbk.txt"
    assert article.title == "国标文件名的新闻"
    assert article.notes == ("file name is not UTF-8: its undecodable bytes are written as \\xNN in the id",)
    assert [(s.item, s.reason) for s in skipped(items)] == [("\\xff.txt", "empty file")]
    article.id.encode("utf-8")


def test_lone_surrogate_escapes_in_json_are_replaced_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text('{"id": "half\\udc80", "title": "表情\\ud83d", "text": ["半个\\ud83d表情", "整个\\ud83d\\ude00表情"]}\n'
                    '{"id": "plain", "title": "写着\\\\ud83d的标题", "text": "正文。"}\n', "utf-8")
    half, plain = articles(list(read_sources([path])))
    assert (half.id, half.title, half.body) == ("half\ufffd", "表情\ufffd", "半个\ufffd表情\n整个😀表情")
    assert half.notes == ("lone surrogate escapes (half characters) replaced with U+FFFD",)
    assert plain.title == "写着\\ud83d的标题" and plain.notes == ()


def test_error_a_reader_failing_on_one_file_skips_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import _sources

    (tmp_path / "a.txt").write_text("甲文\n甲的正文。\n", "utf-8")
    (tmp_path / "b.txt").write_text("乙文\n乙的正文。\n", "utf-8")
    real = _sources.parse_page_text

    def fails_on_b(text: str, **kwargs: object) -> object:
        if text.startswith("乙"):
            raise RecursionError("maximum recursion depth exceeded\nin a parser")
        return real(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_sources, "parse_page_text", fails_on_b)
    items = list(read_sources([tmp_path]))
    assert [a.id for a in articles(items)] == ["a.txt"]
    assert [(s.item, s.reason) for s in skipped(items)] == [
        ("b.txt", "cannot read (RecursionError: maximum recursion depth exceeded in a parser)")]


def test_error_fifo_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("甲文\n甲的正文。\n", "utf-8")
    os.mkfifo(tmp_path / "pipe.txt")
    items = list(read_sources([tmp_path, tmp_path / "pipe.txt"]))
    assert [a.id for a in articles(items)] == ["a.txt"]
    assert [s.reason for s in skipped(items)] == ["not a regular file", "not a regular file or folder"]


# ---- symbolic links ---------------------------------------------------------------------------------


@pytest.fixture()
def linked(tmp_path: Path) -> Path:
    """A SOURCE folder with a file symlink out of it, one within it, and a folder outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("外部文件\n不应被读到的内容。\n", "utf-8")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "real.txt").write_text("内部文件\n文件夹里的正文。\n", "utf-8")
    (src / "inside-link.txt").symlink_to(Path("sub", "real.txt"))
    (src / "out-link.txt").symlink_to(outside / "secret.txt")
    (src / "sub" / "up-link.txt").symlink_to(Path("..", "..", "outside", "secret.txt"))
    (src / "dangling-out.txt").symlink_to(outside / "gone.txt")
    (src / "linked-folder").symlink_to(outside, target_is_directory=True)
    return src


def test_error_file_symlinks_out_of_the_source_folder_are_skipped(linked: Path) -> None:
    items = list(read_sources([linked]))
    assert sorted(a.id for a in articles(items)) == ["inside-link.txt", "sub/real.txt"]
    assert sorted((s.item, s.reason) for s in skipped(items)) == [
        ("dangling-out.txt", "symbolic link to a file outside SOURCE"),
        ("out-link.txt", "symbolic link to a file outside SOURCE"),
        ("sub/up-link.txt", "symbolic link to a file outside SOURCE"),
    ]


def test_follow_symlinks_reads_file_links_out_of_the_folder_but_not_folder_links(linked: Path) -> None:
    items = list(read_sources([linked], follow_symlinks=True))
    assert sorted(a.id for a in articles(items)) == ["inside-link.txt", "out-link.txt", "sub/real.txt", "sub/up-link.txt"]
    assert [(s.item, s.reason.split(":")[0]) for s in skipped(items)] == [("dangling-out.txt", "cannot read")]


def test_a_source_that_is_itself_a_symlink_is_followed(linked: Path, tmp_path: Path) -> None:
    (tmp_path / "src-link").symlink_to(linked, target_is_directory=True)
    (tmp_path / "file-link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    items = list(read_sources([tmp_path / "src-link", tmp_path / "file-link.txt"]))
    assert sorted(a.id for a in articles(items)) == ["file-link.txt", "inside-link.txt", "sub/real.txt"]
    assert len(skipped(items)) == 3


# ---- damaged bytes ----------------------------------------------------------------------------------


def _damage(data: bytes, *offsets: int) -> bytes:
    out = bytearray(data)
    for offset in offsets:
        out[offset] = 0xFF
    return bytes(out)


GB_PAGE = "哈尔滨冰雪大世界开园\n发布时间：2024-01-05 09:00\n" + "哈尔滨冰雪大世界今天正式开园，游客可以欣赏冰雕雪雕作品。" * 20 + "\n"


@pytest.mark.parametrize(("encoding", "name"), [("gb18030", "GB18030"), ("big5", "Big5-HKSCS"), ("utf-8", "UTF-8")])
def test_a_file_with_a_few_bad_bytes_is_read_with_them_replaced(tmp_path: Path, encoding: str, name: str) -> None:
    text = GB_PAGE if encoding != "big5" else "齊齊哈爾裝備製造\n發佈時間:2024-05-01 08:00:00\n" + "齊齊哈爾的裝備製造業持續發展，帶動就業。" * 20
    data = text.encode(encoding)
    (tmp_path / "page.txt").write_bytes(_damage(data, *range(len(data) // 2, len(data) // 2 + 200, 40)))
    (article,) = articles(list(read_sources([tmp_path])))
    assert article.title == text.splitlines()[0]
    assert "\ufffd" in article.body and article.body.count("\ufffd") < 15
    (note,) = article.notes
    assert note.endswith(f"invalid {name} byte sequences replaced with U+FFFD"), note


def test_error_text_in_another_encoding_is_not_repaired() -> None:
    with pytest.raises(UndecodableError):
        decode_bytes(("测试" * 50).encode("euc_jis_2004", errors="ignore") + "日本語のテキストです。".encode("shift_jis") * 3 + b"\xff")
    gbk_in_utf8 = ("正文" * 30).encode("utf-8") + ("國標編碼的一段話" * 10).encode("gb18030")
    from indexer._decode import decode_lenient

    assert decode_lenient(gbk_in_utf8, "utf-8") is None


def test_jsonl_line_with_a_bad_byte_is_repaired_and_noted_never_guessed(tmp_path: Path) -> None:
    good = '{"id": "a", "title": "好的", "text": "北京冬奥会今天开幕，运动员入场。"}'.encode()
    damaged = _damage('{"id": "b", "title": "坏字节", "text": "这一行中间有一个坏字节，其余都是正常的文字。"}'.encode(), 60)
    short = '{"id": "c", "title": "坏字节 X", "text": "坏"}'.encode().replace(b"X", b"\xff\xfe\xfd\xfc")
    other = '{"id": "d", "title": "國標", "text": "這一行是另一種編碼寫的。"}'.encode("gb18030")
    (tmp_path / "feed.jsonl").write_bytes(b"\n".join([good, damaged, short, other, good.replace(b'"a"', b'"e"')]) + b"\n")
    items = list(read_sources([tmp_path]))
    found = {a.id: a for a in articles(items)}
    assert sorted(found) == ["a", "b", "e"]
    assert "\ufffd" in found["b"].body and found["b"].body.replace("\ufffd", "").startswith("这一行中间")
    (note,) = found["b"].notes
    assert note[0] in "123" and note.endswith(" invalid UTF-8 byte sequences replaced with U+FFFD"), note
    reasons = {s.item: s.reason for s in skipped(items)}
    assert reasons.keys() == {"feed.jsonl:3", "feed.jsonl:4"}
    assert all(r.startswith("invalid UTF-8 at byte ") and r.endswith("(the file is read as UTF-8)") for r in reasons.values())


def test_gb18030_jsonl_file_is_read_as_gb18030(tmp_path: Path) -> None:
    records = [{"id": f"g{i}", "title": f"国标编码的第{i}条新闻", "text": "哈尔滨冰雪大世界今天正式开园，游客可以欣赏冰雕。"} for i in range(5)]
    lines = [json.dumps(r, ensure_ascii=False).encode("gb18030") for r in records]
    lines.insert(2, b'{"id": "ascii", "title": "ascii only", "text": "plain text"}')
    lines[4] = _damage(lines[4], 40)
    (tmp_path / "gb.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    found = {a.id: a for a in articles(list(read_sources([tmp_path])))}
    assert sorted(found) == ["ascii", "g0", "g1", "g2", "g3", "g4"]
    assert [found[f"g{i}"].title for i in (0, 1, 2, 4)] == [f"国标编码的第{i}条新闻" for i in (0, 1, 2, 4)]
    assert found["g3"].notes and "GB18030" in found["g3"].notes[0]
    assert not found["g0"].notes


# ---- field caps -------------------------------------------------------------------------------------


def test_oversized_fields_are_capped_and_noted(tmp_path: Path) -> None:
    from indexer.article import MAX_ID_CHARS, MAX_SHORT_FIELD_CHARS, MAX_TITLE_CHARS

    record = {"id": "big", "title": "巨" * 1_750_000, "text": "标题有五百万字节的文章，正文照常可搜。" * 1000,
              "source": "源" * 10_000, "category": "类" * 300, "author": "作者", "url": "http://x.cn/" + "a" * 5000}
    long_id = {"id": "i" * (MAX_ID_CHARS + 1), "title": "编号太长", "text": "正文。"}
    (tmp_path / "big.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n" + json.dumps(long_id) + "\n", "utf-8")
    (tmp_path / "page.html").write_text(
        f"<html><head><title>{'长' * 500}</title></head><body><article><h1>{'长' * 500}</h1>"
        f"<p>{'网页正文讲述了一个很长的标题的故事。' * 20}</p></article></body></html>", "utf-8")
    items = list(read_sources([tmp_path]))
    found = {a.id: a for a in articles(items)}
    big = found["big"]
    assert len(big.title) == MAX_TITLE_CHARS and big.title.endswith("巨…")
    assert len(big.source or "") == len(big.category or "") == MAX_SHORT_FIELD_CHARS
    assert big.author == "作者" and big.url is None
    assert big.body == record["text"]
    assert big.notes == ("title cut to 200 of 1,750,000 characters", "source cut to 100 of 10,000 characters",
                         "category cut to 100 of 300 characters", "url dropped (5,012 characters > 2,000)")
    assert len(found["page.html"].title) <= MAX_TITLE_CHARS
    assert [(s.item, s.reason) for s in skipped(items)] == [("big.jsonl:2", "id too long (2,001 characters > 2,000)")]


def test_error_a_json_line_over_the_record_cap_is_skipped_and_the_next_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import _records

    monkeypatch.setattr(_records, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(_records, "JSONL_SAMPLE_BYTES", 64)
    big = json.dumps({"id": "big", "title": "大", "text": "长" * 2000}, ensure_ascii=False)
    small = json.dumps({"id": "small", "title": "小", "text": "短的正文。"}, ensure_ascii=False)
    (tmp_path / "feed.jsonl").write_text(f"{small}\n{big}\n{small.replace('small', 'next')}\n", "utf-8")
    items = list(read_sources([tmp_path]))
    assert [a.id for a in articles(items)] == ["small", "next"]
    assert [(s.item, s.reason) for s in skipped(items)] == [("feed.jsonl:2", "record too large (0.0 MB > 0 MB)")]
