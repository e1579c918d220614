import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from linres.explore import static_slider  # noqa: E402


def _plot(a, b):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, a + 10 * b])
    return fig


def test_static_slider_has_every_frame_and_a_stable_repr():
    s = static_slider(_plot, {"a": [1, 2, 3], "b": [0.5, 1.0]})
    assert len(s.frames) == 6 and len(set(s.frames)) == 6
    assert repr(s) == "StaticSlider(a, b; 3x2 frames)"
    html = s._repr_html_()
    assert html.count('type="range"') == 2 and s.uid in html
    # The first frame shown is the middle of each axis: a=2 (index 1), b=0.5 (index 0).
    assert s.frames[1 * 2 + 0] in html.split("<script>")[0]


def test_static_slider_validation():
    with pytest.raises(ValueError):
        static_slider(_plot, {})
    with pytest.raises(ValueError):
        static_slider(_plot, {"a": []})
