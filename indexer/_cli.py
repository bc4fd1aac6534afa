"""``python -m indexer``: rebuild, update, delete, optimize, stats, check, analyze.

Exit status: 0 done; 3 done but some items were skipped (each listed with its
reason); 1 failed, the previous index untouched (for ``check``: the index has
problems, one line each); 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections import Counter
from dataclasses import asdict
from typing import Any, Sequence

from indexer import settings
from indexer.analysis import prepare_query_dictionary
from indexer._build import BuildReport, build_index, delete_articles, index_stats, optimize_index, update_index
from indexer.errors import IndexerError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3
DEFAULT_SOURCE = "data/articles"
MAX_SKIPS_SHOWN = 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexer", description="Build and maintain the Chinese search index.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--index-dir",
        default=None,
        help=f"index folder (default: ${settings.ENV_PREFIX}INDEX_DIR or 'index')",
    )
    common.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    common.add_argument("--json", action="store_true", help="print the summary as JSON")
    reading = argparse.ArgumentParser(add_help=False)
    reading.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="also read file symlinks that point outside their SOURCE folder (skipped by default)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("rebuild", parents=[common, reading], help="build a fresh index from SOURCEs and swap it in atomically")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help=f"files or folders (default: {DEFAULT_SOURCE})")
    p.add_argument("--procs", type=int, default=None, help="worker processes (default: CPUs, at most 4)")
    p.add_argument("--backend", choices=("whoosh", "xapian"), default="whoosh",
                   help="whoosh: one Whoosh index (default); xapian: Xapian shard databases, to serve with xapian-tcpsrv")
    p.add_argument("--shards", type=int, default=1, help="with --backend xapian: how many shard databases (default: 1)")
    p = sub.add_parser("update", parents=[common, reading], help="add articles from SOURCEs, replacing those with the same id")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p = sub.add_parser("delete", parents=[common], help="remove articles by id")
    p.add_argument("ids", nargs="+", metavar="ID")
    sub.add_parser("optimize", parents=[common], help="merge the index's segments into one, without deleted articles")
    sub.add_parser("stats", parents=[common], help="counts, sources, date range and size of the index")
    p = sub.add_parser("check", parents=[common], help="verify every file's checksum and the index's invariants")
    p.add_argument("--record", action="store_true",
                   help="after Whoosh's own writer changed the index: if all else is sound, record its files as they are")
    p = sub.add_parser("analyze", parents=[common], help="show the tokens of TEXT in the word and character fields")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--mode", choices=("index", "query"), default="index")
    return parser


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(unit=" items", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _report_dict(report: BuildReport) -> dict[str, Any]:
    data = asdict(report)
    data["skipped"] = [{"item": s.item, "reason": s.reason} for s in report.skipped]
    data["seconds"] = round(report.seconds, 3)
    data["articles_per_second"] = round(report.articles_per_second, 1)
    return data


def shown(text: str) -> str:
    """``text`` safe for one line of a terminal: control and format characters (newlines, ANSI
    escapes, bidi overrides) and the surrogates of undecodable file names written as escapes."""
    return "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c
        for c in text
    )


def _print_report(report: BuildReport) -> None:
    out = sys.stdout
    for name in report.cleaned:
        print(f"note: removed {shown(name)}, left by an interrupted run", file=out)
    parts = [f"{report.action}: {shown(report.index_dir)}"]
    if report.action == "optimize":
        parts.append(f"merged {report.merged} segment(s) into 1" if report.merged else "nothing to merge: one segment, no deletions")
        parts.append(f"{report.seconds:.1f} s")
    elif report.action == "delete":
        parts.append(f"deleted {report.deleted}")
        if report.not_found:
            parts.append(f"not found {len(report.not_found)}: {', '.join(shown(i) for i in report.not_found[:10])}")
    else:
        parts.append(f"indexed {report.indexed}")
        if report.action == "update":
            parts.append(f"replaced {report.replaced}")
        parts.append(f"skipped {len(report.skipped)}")
        parts.append(f"{report.seconds:.1f} s ({report.articles_per_second:.0f} articles/s)")
    if report.action in ("update", "delete"):
        parts.append(f"segments {report.segments}" + (f" ({report.merged} merged)" if report.merged else ""))
    print(" | ".join(parts), file=out)
    if report.skipped:
        reasons = Counter(shown(s.reason.split(" (")[0]) for s in report.skipped)
        print("skipped by reason: " + "; ".join(f"{r}: {n}" for r, n in reasons.most_common()), file=out)
        for s in report.skipped[:MAX_SKIPS_SHOWN]:
            print(f"  skipped {shown(s.item)}: {shown(s.reason)}", file=out)
        if len(report.skipped) > MAX_SKIPS_SHOWN:
            print(f"  … and {len(report.skipped) - MAX_SKIPS_SHOWN} more (use --json for all)", file=out)
    if report.notes:  # indexed, but changed on the way: bytes replaced, a field cut
        print(f"indexed with changes: {len(report.notes)}", file=out)
        for n in report.notes[:MAX_SKIPS_SHOWN]:
            print(f"  note {shown(n.item)}: {shown(n.note)}", file=out)
        if len(report.notes) > MAX_SKIPS_SHOWN:
            print(f"  … and {len(report.notes) - MAX_SKIPS_SHOWN} more (use --json for all)", file=out)


def _analyze(text: str, mode: str, as_json: bool) -> None:
    from indexer.analysis import ChineseAnalyzer, ChineseCharAnalyzer

    fields = {}
    for name, analyzer in (("word", ChineseAnalyzer()), ("char", ChineseCharAnalyzer())):
        fields[name] = [
            {"token": t.text, "position": t.pos, "start": t.startchar, "end": t.endchar, "text": text[t.startchar : t.endchar]}
            for t in analyzer(text, positions=True, chars=True, mode=mode)
        ]
    if as_json:
        print(json.dumps({"text": text, "mode": mode, "fields": fields}, ensure_ascii=False, indent=1))
        return
    for name, tokens in fields.items():
        print(f"{name} field ({mode} mode):")
        for t in tokens:
            print(f"  {t['position']:>4}  {t['start']:>4}-{t['end']:<4}  {t['token']}" + (f"  ({t['text']})" if t["text"] != t["token"] else ""))


def _check(args: argparse.Namespace) -> int:
    from indexer._check import check_index

    result = check_index(args.index_dir, record=args.record)
    if args.json:
        data = asdict(result)
        data["ok"] = result.ok
        data["seconds"] = round(result.seconds, 3)
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        for problem in result.problems:
            print(f"problem: {shown(problem)}")
        if not args.quiet or result.problems:
            verdict = "ok" if result.ok else f"{len(result.problems)} problem(s): rebuild with `python -m indexer rebuild`"
            if result.recorded:
                verdict += " (checksums recorded)"
            print(f"check: {shown(result.index_dir)} ({result.generation}) | {result.files} files, "
                  f"{result.bytes / 2**20:.1f} MB, {result.articles} articles | {result.seconds:.1f} s | {verdict}")
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "analyze":
            _analyze(args.text, args.mode, args.json)
            return EXIT_OK
        if args.command == "check":
            return _check(args)
        if args.command == "stats":
            stats = index_stats(index_dir=args.index_dir)
            if args.json:
                print(json.dumps(asdict(stats), ensure_ascii=False, indent=1))
            elif not args.quiet:
                print(f"index: {stats.index_dir} ({stats.generation}, built {stats.built})")
                print(f"articles: {stats.articles} ({stats.undated} without a date)")
                print(f"published: {stats.first_published} … {stats.last_published}")
                print(f"size on disk: {stats.bytes_on_disk / 2**20:.1f} MB")
                print("sources: " + ", ".join(f"{k} {v}" for k, v in list(stats.sources.items())[:15]))
                for stub in stats.shards:
                    print(f"shard: {stub}")
            return EXIT_OK
        progress = _Progress(not args.quiet and not args.json)
        try:
            if args.command == "rebuild":
                if args.backend == "xapian":
                    from indexer._xapian import build_shards

                    if args.shards < 1:
                        print("error: --shards must be at least 1", file=sys.stderr)
                        return EXIT_FAILED
                    report = build_shards(args.sources or [DEFAULT_SOURCE], index_dir=args.index_dir, shards=args.shards,
                                          procs=args.procs, progress=progress, follow_symlinks=args.follow_symlinks)
                else:
                    report = build_index(args.sources or [DEFAULT_SOURCE], index_dir=args.index_dir, procs=args.procs,
                                         progress=progress, follow_symlinks=args.follow_symlinks)
            elif args.command == "update":
                report = update_index(args.sources, index_dir=args.index_dir, progress=progress, follow_symlinks=args.follow_symlinks)
            elif args.command == "optimize":
                report = optimize_index(index_dir=args.index_dir)
            else:
                report = delete_articles(args.ids, index_dir=args.index_dir)
        finally:
            progress.close()
        if args.command in ("rebuild", "update"):
            prepare_query_dictionary()  # so that the first query of a fresh server process need not write it
        if args.json:
            print(json.dumps(_report_dict(report), ensure_ascii=False, indent=1))
        elif not args.quiet:
            _print_report(report)
        return EXIT_SKIPPED if report.skipped or report.not_found else EXIT_OK
    except IndexerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted: the previous index is still being served", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, never a traceback
        print(f"internal error: {type(exc).__name__}: {exc} (the previous index is intact)", file=sys.stderr)
        return EXIT_FAILED
