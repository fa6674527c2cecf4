// Dashboard and analytics pages: draw every server-built Plotly figure (JSON in data-figure)
// into a child of its container, so the container keeps its id and the plot is found inside.
(function () {
  "use strict";
  function draw() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      let fig;
      try { fig = JSON.parse(el.dataset.figure); } catch (e) { return; }
      const target = document.createElement("div");
      el.replaceChildren(target);
      const layout = Object.assign({ autosize: true }, fig.layout || {});
      window.Plotly.newPlot(target, fig.data || [], layout, { displaylogo: false, responsive: true, locale: document.documentElement.lang });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
