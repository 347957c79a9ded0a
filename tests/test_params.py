import pytest

from kdkit.params import ParamError, load_yaml, parse_overrides, read_schema, resolve
from tests.helpers import write_notebook

PARAMS = """\
epochs = 3  # training epochs
lr = 0.01
name = "x"
flag = False
seeds = [0, 1]
rates = [0.5, 1.0]
path = None
mode: str | None = None
opts = {"a": 1}
report_dir = None
"""


@pytest.fixture
def nb(tmp_path):
    return write_notebook(tmp_path / "toy.ipynb", PARAMS, "pass")


def test_schema_types_and_comments(nb):
    s = read_schema(nb)
    assert s["epochs"].types == (int,) and s["epochs"].comment == "training epochs"
    assert s["lr"].types == (float,)
    assert s["path"].types == (str, type(None))
    assert s["mode"].type_name == "str | None"
    assert list(s)[:3] == ["epochs", "lr", "name"]


def test_resolve_layers_defaults_file_and_overrides(nb, tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("epochs: 10\nlr: 1\nseeds: [0, 1, 2]\n")
    v = resolve(nb, f, ["epochs=20", "rates=[1, 2.5e-1]", "path=/data"])
    assert v["epochs"] == 20 and v["lr"] == 1.0 and isinstance(v["lr"], float)
    assert resolve(nb, None, ["lr=1e-3"])["lr"] == 0.001  # YAML 1.1 reads 1e-3 as a string
    assert v["seeds"] == [0, 1, 2] and v["rates"] == [1.0, 0.25] and v["path"] == "/data"
    assert v["name"] == "x"


@pytest.mark.parametrize("override,message", [
    ("no_such_key=1", "unknown parameter 'no_such_key'"),
    ("epochs=abc", "parameter 'epochs' expects int, got str 'abc'"),
    ("lr=fast", "parameter 'lr' expects float, got str 'fast'"),
    ("epochs=1.5", "parameter 'epochs' expects int"),
    ("flag=1", "parameter 'flag' expects bool"),
    ("epochs=true", "parameter 'epochs' expects int, got bool"),
    ("seeds=[0, x]", "parameter 'seeds' expects a list of int"),
    ("report_dir=/tmp", "'report_dir' is set by the runner"),
    ("novalue", "-p expects KEY=VALUE"),
])
def test_bad_overrides_name_the_key(nb, override, message):
    with pytest.raises(ParamError, match=message.replace("[", r"\[")):
        resolve(nb, None, [override])


def test_unknown_key_suggests_the_closest_and_lists_only_user_parameters(nb):
    with pytest.raises(ParamError) as e:
        resolve(nb, None, ["epoch=2"])
    msg = str(e.value)
    assert "unknown parameter 'epoch'; did you mean 'epochs'?" in msg
    assert "epochs, lr, name" in msg
    assert "report_dir" not in msg  # the runner's own parameters are not offered


def test_unknown_key_with_no_close_match_has_no_suggestion(nb):
    with pytest.raises(ParamError) as e:
        resolve(nb, None, ["zzz=2"])
    assert "did you mean" not in str(e.value)


def test_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1,\n")
    with pytest.raises(ParamError, match="not valid YAML"):
        load_yaml(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ParamError, match="expected a mapping"):
        load_yaml(bad)
    with pytest.raises(ParamError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")


def test_overrides_parse_as_yaml_scalars():
    assert parse_overrides(["a=1", "b=0.5", "c=[1, 2]", "d=hello", "e=null"]) == \
        {"a": 1, "b": 0.5, "c": [1, 2], "d": "hello", "e": None}


def test_yaml_path_that_is_a_folder(tmp_path):
    with pytest.raises(ParamError, match="cannot be read"):
        load_yaml(tmp_path)


def test_non_literal_default_is_refused(tmp_path):
    nb = write_notebook(tmp_path / "bad.ipynb", "n = len([1, 2])\n", "pass")
    with pytest.raises(ParamError, match="parameter 'n' needs a literal default"):
        read_schema(nb)
