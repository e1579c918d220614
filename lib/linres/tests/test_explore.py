"""The Explore machinery: controls, the static Vega-Lite figure, the live widget."""
import json

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from linres import explore  # noqa: E402
from linres.explore import Control, Explorer, Frame, Series  # noqa: E402


def _frame(a=1.0, b=2):
    t = np.arange(30)
    return Frame((Series("measured", t, np.exp(-a * t / b) + 1e-3),
                  Series("bound", t[[0, -1]], np.exp(-0.5 * a * t[[0, -1]] / b) + 1e-3, kind="bound")))


EX = Explorer("toy", _frame, (Control("a", "α", r"\alpha", (0.5, 1.0, 1.5)), Control("b", "b", "b", (1, 2, 4, 8))),
              x_title="t", y_title="loss", description="A toy figure.")


def test_control_validation():
    with pytest.raises(ValueError, match="name"):
        Control("not an id", "x", "x", (1, 2))
    with pytest.raises(ValueError, match="increasing"):
        Control("x", "x", "x", (2, 1))
    with pytest.raises(TypeError, match="finite"):
        Control("x", "x", "x", (1, float("nan")))
    with pytest.raises(ValueError, match="default"):
        Control("x", "x", "x", (1, 2), default=3)
    assert Control("x", "x", "x", (1, 2, 3)).default == 2
    assert Control("x", "x", "x", (0.1, 0.2, 0.3)).uniform and not Control("x", "x", "x", (1, 2, 4)).uniform


def test_explorer_and_series_validation():
    with pytest.raises(TypeError):
        Explorer("e", _frame, (), "t", "y", "d")
    with pytest.raises(ValueError, match="distinct"):
        Explorer("e", _frame, (Control("a", "a", "a", (1, 2)),) * 2, "t", "y", "d")
    with pytest.raises(ValueError, match="y_scale"):
        Explorer("e", _frame, (Control("a", "a", "a", (1, 2)),), "t", "y", "d", y_scale="sqrt")
    with pytest.raises(ValueError, match="kind"):
        Series("s", [1], [1], kind="other")
    with pytest.raises(ValueError, match="same length"):
        Series("s", [1, 2], [1])
    with pytest.raises(TypeError):
        explore.static("not an explorer")


def test_static_has_every_frame_and_filters_by_control_index():
    fig = explore.static(EX)
    assert fig.n_frames == 12
    spec = fig.spec
    data = spec["datasets"][spec["data"]["name"]] if "datasets" in spec else spec["data"]["values"]
    # one record per distinct curve, with the frames that show it
    assert {k for r in data for k in r["k"]} == set(range(12))
    for k, params in enumerate(EX.grid()):
        fr = EX.frame(**params)
        mine = sorted((r for r in data if k in r["k"]), key=lambda r: r["s"])
        assert [r["s"] for r in mine] == [0, 1]
        for r, s in zip(mine, fr.series):
            assert len(r["x"]) == len(r["v"]) <= EX.points
            # y to 0.12 %: v is the integer nearest 1000·log10 y
            np.testing.assert_allclose(10 ** (np.array(r["v"]) / 1000), np.interp(r["x"], s.x, s.y), rtol=2e-3)
    # the bound depends on a/b only: (a, b) = (0.5, 1) and (1.0, 2) share it, stored once
    bounds = [r for r in data if r["s"] == 1]
    assert len(bounds) < 12 and any(len(r["k"]) > 1 for r in bounds)
    # the filter maps the controls' values to the row-major frame index
    expr = spec["transform"][0]["filter"]
    assert spec["transform"][1] == {"flatten": ["x", "v"]}

    def _indexof(arr, v):
        return arr.index(v) if v in arr else -1

    for k, params in enumerate(EX.grid()):
        env = dict(params)
        for frames, shown in (([k], True), ([j for j in range(12) if j != k], False)):
            js = expr.replace("datum.k", repr(frames))
            js = js.replace("indexof(", "_indexof(").replace("round(", "_round(")
            assert eval(js, {"_indexof": _indexof, "_round": round}, env) is shown, (k, params)
    assert {p["name"] for p in spec["params"]} == {"a", "b"}
    assert spec["usermeta"]["linres"]["frames"] == 12
    html = fig._repr_html_()
    assert 'class="linres-explore"' in html and "A toy figure." in html
    assert json.loads(html.split('class="linres-explore-spec">')[1].split("</script>")[0].replace("<\\/", "</"))
    assert repr(fig) == "Explore figure 'toy': 12 precomputed frames; controls α (3 values), b (4 values)"


def _signature(frame):
    return tuple(np.round(np.concatenate([np.r_[s.x, s.y] for s in frame.series]), 12).tolist())


def test_live_widget_redraws_on_every_move():
    box = explore.live(EX)
    assert set(box.controls) == {"a", "b"} and box.frame is not None
    first = _signature(box.frame)
    box.controls["a"].value = 1.5
    assert _signature(box.frame) != first
