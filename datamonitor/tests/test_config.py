"""Configuration: precedence, validation that names the key, secrets kept out of repr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datamonitor import ConfigError, EsSettings, load_config
from datamonitor.config import default_home, normalize_hosts


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_use_the_embedded_store_under_home(tmp_path: Path) -> None:
    cfg = load_config(env={"HOME": str(tmp_path)}, home=tmp_path / "h")
    assert not cfg.es.configured
    assert cfg.store_file == tmp_path / "h" / "datamonitor.db"
    assert cfg.es.index_prefix == "dm-kpi" and cfg.es.index_period == "month"


def test_default_home_follows_xdg(tmp_path: Path) -> None:
    assert default_home({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "datamonitor"
    assert default_home({"DATAMONITOR_HOME": str(tmp_path / "x")}) == tmp_path / "x"


def test_precedence_file_then_env_then_arguments(tmp_path: Path) -> None:
    conf = write(tmp_path / "c.toml", '[elasticsearch]\nurl = "http://file:9200"\nchunk_size = 50\n'
                                      '[store]\npath = "/tmp/from-file.db"\n')
    cfg = load_config(conf, env={})
    assert cfg.es.hosts == ("http://file:9200",) and cfg.es.chunk_size == 50
    assert cfg.store_file == Path("/tmp/from-file.db")
    cfg = load_config(conf, env={"DATAMONITOR_ES_URL": "http://env:9200", "DATAMONITOR_STORE": "/tmp/env.db"})
    assert cfg.es.hosts == ("http://env:9200",) and cfg.store_file == Path("/tmp/env.db")
    cfg = load_config(conf, env={"DATAMONITOR_ES_URL": "http://env:9200"}, es_url="http://arg:9200",
                      store_path="/tmp/arg.db")
    assert cfg.es.hosts == ("http://arg:9200",) and cfg.store_file == Path("/tmp/arg.db")
    assert cfg.es.chunk_size == 50


def test_config_file_found_in_home_and_via_env(tmp_path: Path) -> None:
    write(tmp_path / "datamonitor.toml", '[elasticsearch]\nurl = "http://home:9200"\n')
    assert load_config(env={}, home=tmp_path).es.hosts == ("http://home:9200",)
    other = write(tmp_path / "other.toml", '[elasticsearch]\nurl = "http://other:9200"\n')
    assert load_config(env={"DATAMONITOR_CONFIG": str(other)}, home=tmp_path).es.hosts == ("http://other:9200",)


@pytest.mark.parametrize("text, message", [
    ('[elasticsearch]\nurll = "x"\n', "unknown key 'elasticsearch.urll'"),
    ('colour = "blue"\n', "unknown key 'colour'"),
    ('[elasticsearch]\nchunk_size = "ten"\n', "'elasticsearch.chunk_size' must be int, not str"),
    ('[elasticsearch]\nverify_certs = "no"\n', "'elasticsearch.verify_certs' must be bool"),
    ('[elasticsearch]\nchunk_size = true\n', "'elasticsearch.chunk_size' must be int, not bool"),
    ('[elasticsearch]\nindex_period = "year"\n', "'elasticsearch.index_period' must be one of"),
    ('[elasticsearch]\nindex_prefix = "DM KPI"\n', "'elasticsearch.index_prefix'"),
    ('[elasticsearch]\nurl = "ftp://x"\n', "'elasticsearch.url'"),
    ('[elasticsearch]\nchunk_size = 0\n', "'elasticsearch.chunk_size' must be at least 1"),
    ('[store]\npath = 3\n', "'store.path' must be str"),
    ('[store]\nfolder = "x"\n', "'store' takes only path, max_size and when_full"),
    ('[store]\nmax_size = "lots"\n', "'store.max_size': 'lots' is not a size"),
    ('[store]\nmax_size = "5 parsecs"\n', "'store.max_size': unknown unit"),
    ('[store]\nmax_size = 0\n', "'store.max_size': must be positive"),
    ('[store]\nwhen_full = "panic"\n', "'store.when_full' must be one of pause, drop_oldest"),
    ("[elasticsearch\n", "not valid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    conf = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(conf, env={})
    assert message in str(err.value) and str(conf) in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_bad_env_bool() -> None:
    with pytest.raises(ConfigError, match="DATAMONITOR_ES_VERIFY_CERTS"):
        load_config(env={"DATAMONITOR_ES_VERIFY_CERTS": "maybe"})


def test_hosts_in_every_accepted_shape() -> None:
    assert normalize_hosts({"host": "localhost", "port": 9200, "scheme": "http"})[0] == ("http://localhost:9200",)
    assert normalize_hosts("es1:9201, https://es2")[0] == ("http://es1:9201", "https://es2:9200")
    assert normalize_hosts(["http://a:1", {"host": "b", "scheme": "https"}])[0] == ("http://a:1", "https://b:9200")
    assert normalize_hosts({"host": "h", "path_prefix": "/es/"})[0] == ("http://h:9200/es",)
    with pytest.raises(ConfigError, match="scheme"):
        normalize_hosts({"host": "h", "scheme": "gopher"})
    with pytest.raises(ConfigError, match="unknown key"):
        normalize_hosts({"hostname": "h"})


def test_credentials_in_a_url_move_out_of_it() -> None:
    hosts, user, password = normalize_hosts("https://elastic:s%40cret@es.example:9243")
    assert hosts == ("https://es.example:9243",)
    assert (user, password) == ("elastic", "s@cret")


def test_secrets_come_from_env_and_stay_out_of_repr(tmp_path: Path) -> None:
    env = {"DATAMONITOR_ES_URL": "https://es:9200", "DATAMONITOR_ES_USERNAME": "elastic",
           "DATAMONITOR_ES_PASSWORD": "hunter2-secret", "DATAMONITOR_ES_API_KEY": "apikey-secret"}
    cfg = load_config(env=env, home=tmp_path)
    assert cfg.es.password == "hunter2-secret" and cfg.es.api_key == "apikey-secret"
    for text in (repr(cfg), str(cfg), repr(cfg.es), str(cfg.es)):
        assert "hunter2-secret" not in text and "apikey-secret" not in text
        assert "***" in text


def test_username_without_password_is_rejected() -> None:
    with pytest.raises(ConfigError, match="without a password"):
        load_config(env={"DATAMONITOR_ES_URL": "http://es:9200", "DATAMONITOR_ES_USERNAME": "elastic"})


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        EsSettings().hosts = ("x",)  # type: ignore[misc]
    assert "DATAMONITOR_HOME" in os.environ  # the autouse fixture's isolation is in force


def test_store_bounds_from_file_and_environment(tmp_path: Path) -> None:
    conf = write(tmp_path / "c.toml", '[store]\nmax_size = "1.5 MiB"\nwhen_full = "drop_oldest"\n')
    config = load_config(conf, env={})
    assert (config.store_max_size, config.store_when_full) == (1572864, "drop_oldest")
    assert load_config(conf, env={"DATAMONITOR_STORE_MAX_SIZE": "10GB"}).store_max_size == 10**10
    assert load_config(env={}).store_max_size is None


@pytest.mark.parametrize("raw, seconds", [
    (5, 5.0), (0.25, 0.25), ("30", 30.0), ("30s", 30.0), ("500ms", 0.5), ("5m", 300.0), ("1.5h", 5400.0),
    ("7d", 604800.0), ("2w", 1209600.0), (" 10 S ", 10.0),
])
def test_durations_take_units(raw: object, seconds: float) -> None:
    from datamonitor.config import parse_duration

    assert parse_duration(raw, "x") == seconds


@pytest.mark.parametrize("raw, message", [
    (0, "x: must be positive, not 0"), ("0s", "x: must be positive, not '0s'"), (-1, "x: must be positive"),
    ("5 parsecs", "x: unknown unit 'parsecs'"), ("fast", "x: unknown unit 'fast'"), ("s", "x: 's' is not a duration"),
    (True, "x: must be seconds"), ("nan", "x: unknown unit 'nan'"), (float("inf"), "x: inf is not a finite duration"),
])
def test_bad_durations_are_refused(raw: object, message: str) -> None:
    from datamonitor.config import parse_duration

    with pytest.raises(ConfigError) as exc:
        parse_duration(raw, "x")
    assert str(exc.value).startswith(message)


def test_a_baseline_table_sets_how_baselines_are_learned(tmp_path: Path) -> None:
    from datamonitor import DataMonitor

    conf = write(tmp_path / "c.toml", '[baseline]\nk = 5\nwindow = 20\n'
                 'min_change = [{kpi = "file.rows", relative = 0.5}]\n')
    cfg = load_config(conf, env={}, home=tmp_path / "h")
    assert cfg.baseline is not None and (cfg.baseline.k, cfg.baseline.window) == (5, 20)
    assert cfg.baseline.least_change("file.rows", 1000) == 500
    dm = DataMonitor(cfg)
    try:
        assert dm.baselines.settings is cfg.baseline
    finally:
        dm.close()
    assert load_config(env={}, home=tmp_path / "h").baseline is None  # no table: the defaults


@pytest.mark.parametrize(("text", "message"), [
    ('[baseline]\nkk = 5\n', "[baseline]: unknown key 'kk'"),
    ('[baseline]\nk = "wide"\n', "[baseline]: k must be a number, not 'wide'"),
    ('[baseline]\nk = -1\n', "[baseline]: k must be positive, not -1"),
    ('baseline = 3\n', "key 'baseline' must be a table"),
])
def test_a_bad_baseline_table_is_one_error_naming_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    conf = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(conf, env={}, home=tmp_path / "h")
    assert str(err.value).startswith(str(conf)) and message in str(err.value) and "\n" not in str(err.value)


def test_baseline_dataset_tables_set_some_datasets_apart(tmp_path: Path) -> None:
    conf = write(tmp_path / "c.toml", '[baseline]\nk = 5\n\n[[baseline.datasets]]\nmatch = "flights*"\nk = 3\n'
                 'window = 40\n\n[[baseline.datasets]]\nmatch = "/in/*"\ncolumn_k = 12\n')
    cfg = load_config(conf, env={}, home=tmp_path / "h")
    assert cfg.baseline is not None and [d.match for d in cfg.baseline.datasets] == ["flights*", "/in/*"]
    flights = cfg.baseline.for_dataset("/in/flights_#.csv")  # the first match wins
    assert (flights.k, flights.window, flights.column_k) == (3, 40, 8)
    other = cfg.baseline.for_dataset("/in/sales_#.csv")  # unlisted keys come from [baseline]
    assert (other.k, other.window, other.column_k) == (5, 30, 12)
    assert cfg.baseline.for_dataset("/out/sales_#.csv") is cfg.baseline


@pytest.mark.parametrize(("text", "message"), [
    ('[[baseline.datasets]]\nk = 3\n', "[baseline.datasets][0]: match must be a shell pattern"),
    ('[[baseline.datasets]]\nmatch = "a"\n[[baseline.datasets]]\nmatch = "b"\nk = "wide"\n',
     "[baseline.datasets][1]: k must be a number, not 'wide'"),
    ('[[baseline.datasets]]\nmatch = "a"\nwindow = 3\n', "[baseline.datasets][0]: window (3) must be at least"),
    ('[[baseline.datasets]]\nmatch = "a"\ncommit_every = 2\n', "[baseline.datasets][0]: commit_every is for every"),
    ('[baseline]\ndatasets = 3\n', "[baseline]: datasets must be a list of tables"),
])
def test_a_bad_baseline_dataset_table_is_one_error_naming_the_file_table_and_key(tmp_path: Path, text: str,
                                                                                 message: str) -> None:
    conf = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(conf, env={}, home=tmp_path / "h")
    assert str(err.value).startswith(f"{conf}: {message}") and "\n" not in str(err.value)
