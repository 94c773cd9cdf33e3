"""Config loading: unknown keys, type coercion, overrides, bundled presets."""

import pytest

from hrm.config import available_configs, load_config
from hrm.errors import ConfigError
from hrm.models import HRMConfig, TRMConfig
from hrm.train.run_config import RunConfig


def test_every_bundled_config_loads():
    names = available_configs()
    assert {"tiny", "demo", "hrm_sudoku", "trm_sudoku", "hrm_maze", "trm_maze", "trm_maze_fast", "trm_sudoku_fast", "hrm_arc", "trm_arc"} <= set(names)
    for name in names:
        cfg = load_config(RunConfig, name, ["max_steps=7", "checkpoint_every=3"])
        assert cfg.max_steps == 7 and cfg.checkpoint_every == 3


def test_model_section_picks_the_model_class():
    assert isinstance(load_config(RunConfig, "hrm_sudoku").model, HRMConfig)
    assert isinstance(load_config(RunConfig, "trm_sudoku").model, TRMConfig)


def test_overrides_are_typed():
    cfg = load_config(RunConfig, "tiny", ["optim.lr=3e-4", "model.hidden_dim=48", "optim.ema=false",
                                          "optim.betas=[0.8,0.9]"])
    assert cfg.optim.lr == 3e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.model.hidden_dim == 48 and cfg.optim.ema is False and cfg.optim.betas == (0.8, 0.9)
    # YAML reads false/true as bools; a choice that spells them takes them as its strings
    assert load_config(RunConfig, "tiny", ["compile=false"]).compile == "false"
    assert load_config(RunConfig, "tiny", ["compile=true"]).compile == "true"


@pytest.mark.parametrize("override,message", [
    ("optim.lrr=1", "unknown config key 'optim.lrr' (did you mean 'optim.lr'?)"),
    ("max_step=3", "did you mean 'max_steps'"),
    ("model.hidden_dim=abc", "'model.hidden_dim' must be an integer"),
    ("model.hidden_dim=1.5", "must be an integer"),
    ("optim.ema=maybe", "must be true or false"),
    ("model.name=gpt", "must name a model"),
    ("model.pos_encoding=alibi", "must be one of"),
    ("model.pos_encoding=true", "must be one of"),
    ("model.num_heads=33", "must be in [1, hidden_dim]"),
    ("model.num_heads=32", "RoPE needs an even head width"),
    ("noequals", "key=value"),
])
def test_bad_config_gives_one_clear_error(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(RunConfig, "tiny", [override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_config_name_suggests(tmp_path):
    with pytest.raises(ConfigError, match="unknown config 'tyny'.*tiny"):
        load_config(RunConfig, "tyny")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(RunConfig, str(bad))
