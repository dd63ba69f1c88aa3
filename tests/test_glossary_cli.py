"""`python -m bot glossary import | export | lint`, and seeding on first run, as subprocesses."""

from __future__ import annotations

from tests.test_cli import cli
from tests.test_glossary import write_seed


def test_import_export_lint_from_the_command_line(tmp_path):
    write_seed(tmp_path / "seed")
    # No shipped seed: these tests import their own small one.
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db"), "CONCORD_GLOSSARY_DIR": str(tmp_path / "none")}
    result = cli("glossary", "import", "seed", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "added" in result.stdout
    again = cli("glossary", "import", "seed", cwd=tmp_path, env=env)
    assert "0 added, 0 updated" in again.stdout
    tsv = cli("glossary", "export", "--language", "es", "--format", "tsv", cwd=tmp_path, env=env)
    assert "principal\tdirector/a" in tsv.stdout.splitlines()
    full = cli("glossary", "export", "--language", "es", "--format", "full", "-o", "es.csv", cwd=tmp_path, env=env)
    assert full.returncode == 0 and (tmp_path / "es.csv").read_text(encoding="utf-8").startswith("concept,preferred")
    lint = cli("glossary", "lint", cwd=tmp_path, env=env)
    assert lint.returncode == 1 and "missing-expansion: title-i" in lint.stdout


def test_import_over_approved_terms_asks_for_force_and_changes_nothing(tmp_path):
    write_seed(tmp_path / "seed")
    # No shipped seed: these tests import their own small one.
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db"), "CONCORD_GLOSSARY_DIR": str(tmp_path / "none")}
    cli("glossary", "import", "seed", cwd=tmp_path, env=env)
    (tmp_path / "deepl.csv").write_text("principal,jefe\n", encoding="utf-8")
    refused = cli("glossary", "import", "deepl.csv", "--language", "es", cwd=tmp_path, env=env)
    assert refused.returncode == 3 and "--force" in refused.stderr and "'director/a' -> 'jefe'" in refused.stderr
    tsv = cli("glossary", "export", "--language", "es", "--format", "csv", cwd=tmp_path, env=env)
    assert "principal,director/a" in tsv.stdout.splitlines()
    forced = cli("glossary", "import", "deepl.csv", "--language", "es", "--force", cwd=tmp_path, env=env)
    assert forced.returncode == 0


def test_bad_input_is_one_error_line(tmp_path):
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db")}
    (tmp_path / "x.csv").write_bytes("a,b\n".encode("utf-16"))
    for args, message in (
        (("import", "x.csv", "--language", "es"), "not UTF-8"),
        (("import", "missing.csv"), "cannot read missing.csv"),
        (("export", "--language", "xx"), "Unknown language 'xx'"),
    ):
        result = cli("glossary", *args, cwd=tmp_path, env=env)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_first_run_seeds_the_glossary_once(tmp_path):
    write_seed(tmp_path / "seed")
    env = {"CONCORD_GLOSSARY_DIR": str(tmp_path / "seed")}
    first = cli("run", cwd=tmp_path, env=env)
    assert "glossary seeded" in first.stderr
    second = cli("run", cwd=tmp_path, env=env)
    assert "glossary seeded" not in second.stderr
    export = cli("glossary", "export", "--language", "zh-TW", "--format", "csv", cwd=tmp_path)
    assert "principal,校長" in export.stdout.splitlines()


def test_import_larger_than_the_limit_is_one_clear_error_line(tmp_path):
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db"), "CONCORD_GLOSSARY_DIR": str(tmp_path / "none")}
    (tmp_path / "es.csv").write_bytes(b"field trip,excursion\n" * 60_000)  # 1.2 MB: over the default 1024 KB
    result = cli("glossary", "import", "es.csv", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "es.csv is 1230 KB; the import limit is 1024 KB per file (CONCORD_GLOSSARY_IMPORT_MAX_KB)" in result.stderr
    (tmp_path / "es.csv").write_text("".join(f"term {n},término {n}\n" for n in range(150)), encoding="utf-8")
    for limit, code in (("2", 2), ("4", 0)):  # the file is 3 KB
        result = cli("glossary", "import", "es.csv", cwd=tmp_path, env={**env, "CONCORD_GLOSSARY_IMPORT_MAX_KB": limit})
        assert result.returncode == code, result.stderr
    assert result.stdout.startswith("300 added")


def test_a_header_row_is_not_imported_as_a_term(tmp_path):
    env = {"CONCORD_DATABASE": str(tmp_path / "g.db"), "CONCORD_GLOSSARY_DIR": str(tmp_path / "none")}
    (tmp_path / "deepl.csv").write_text("English,Spanish\nfield trip,excursión\n", encoding="utf-8")
    result = cli("glossary", "import", "deepl.csv", cwd=tmp_path, env=env)
    assert result.returncode == 0 and result.stdout.startswith("2 added")  # the concept and its rendering
    export = cli("glossary", "export", "--language", "es", "--format", "csv", cwd=tmp_path, env=env)
    assert export.stdout.splitlines() == ["field trip,excursión"]
