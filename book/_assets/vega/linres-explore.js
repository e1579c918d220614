// Explore figures: load the vendored Vega bundle when a figure comes near the screen
// (it is the heaviest asset of the page), then draw every figure with vega-embed from
// the spec stored beside it. No data are computed here.
(function () {
  var BUNDLE = ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"];
  var base = document.currentScript.src.replace(/[^/]*$/, "");
  var loading = null;

  function load() {
    if (loading) return loading;
    loading = BUNDLE.reduce(function (chain, file) {
      return chain.then(function () {
        return new Promise(function (resolve, reject) {
          var s = document.createElement("script");
          s.src = base + file;
          s.onload = resolve;
          s.onerror = reject;
          document.head.appendChild(s);
        });
      });
    }, Promise.resolve());
    return loading;
  }

  function draw(fig) {
    load().then(function () {
      var spec = JSON.parse(fig.querySelector("script.linres-explore-spec").textContent);
      var fallback = fig.querySelector(".linres-explore-fallback");
      if (fallback) fallback.remove();
      vegaEmbed(fig.querySelector(".linres-explore-plot"), spec, {actions: false, renderer: "svg"});
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var figs = document.querySelectorAll("figure.linres-explore");
    if (!("IntersectionObserver" in window)) { figs.forEach(draw); return; }
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { seen.unobserve(e.target); draw(e.target); }
      });
    }, {rootMargin: "1200px 0px"});
    figs.forEach(function (f) { seen.observe(f); });
  });
})();
