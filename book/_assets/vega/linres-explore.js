// Draw every Explore figure of the page with vega-embed (the spec sits beside it).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("figure.linres-explore").forEach(function (fig) {
    var spec = JSON.parse(fig.querySelector("script.linres-explore-spec").textContent);
    var fallback = fig.querySelector(".linres-explore-fallback");
    if (fallback) fallback.remove();
    vegaEmbed(fig.querySelector(".linres-explore-plot"), spec, {actions: false, renderer: "svg"});
  });
});
