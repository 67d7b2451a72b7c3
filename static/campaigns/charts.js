/* Dashboard charts: Chart.js (vendored), drawn from JSON in the page.
   Accessible: every canvas has role=img, a label, and a data table next to it; series differ
   by line style and point shape as well as colour, and bars carry their value as text. */
(function () {
  "use strict";
  var palette = ["#0d6efd", "#d63384", "#198754", "#fd7e14", "#6f42c1", "#20c997"];
  var dashes = [[], [6, 4], [2, 3], [10, 3, 2, 3]];
  var points = ["circle", "triangle", "rect", "rectRot", "star", "cross"];

  // Writes each bar's value at its end, so no reading depends on colour or gridlines.
  var valueLabels = {
    id: "valueLabels",
    afterDatasetsDraw: function (chart) {
      if (chart.config.type !== "bar") return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "#212529";
      ctx.font = "12px sans-serif";
      chart.data.datasets.forEach(function (ds, i) {
        chart.getDatasetMeta(i).data.forEach(function (bar, j) {
          var v = ds.data[j];
          if (v === null || v === undefined) return;
          var horizontal = chart.options.indexAxis === "y";
          ctx.textAlign = horizontal ? "left" : "center";
          ctx.textBaseline = horizontal ? "middle" : "bottom";
          ctx.fillText(String(v), horizontal ? bar.x + 4 : bar.x, horizontal ? bar.y : bar.y - 2);
        });
      });
      ctx.restore();
    },
  };

  function build(canvas) {
    var spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    var spark = spec.sparkline === true;
    var datasets = spec.datasets.map(function (ds, i) {
      var colour = palette[i % palette.length];
      return {
        label: ds.label,
        data: ds.data,
        borderColor: colour,
        backgroundColor: spec.type === "bar" ? colour + "cc" : colour,
        borderDash: dashes[i % dashes.length],
        pointStyle: points[i % points.length],
        pointRadius: spark ? 0 : 3,
        borderWidth: spark ? 1.5 : 2,
        stack: spec.stacked ? "all" : undefined,
      };
    });
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      plugins: spark ? [] : [valueLabels],
      options: {
        animation: false,
        responsive: !spark,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        plugins: {
          legend: { display: !spark && datasets.length > 1, labels: { usePointStyle: true } },
          tooltip: { enabled: !spark },
        },
        scales: spark
          ? { x: { display: false }, y: { display: false, beginAtZero: true } }
          : {
              x: { stacked: !!spec.stacked, beginAtZero: true },
              y: { stacked: !!spec.stacked, beginAtZero: true, ticks: { precision: spec.decimals ? undefined : 0 } },
            },
      },
    });
    canvas.dataset.rendered = "1";
    return chart;
  }

  var charts = [];
  document.querySelectorAll("canvas[data-chart]").forEach(function (c) {
    charts.push(build(c));
  });
  // Printing: redraw at the paper's width.
  window.addEventListener("beforeprint", function () {
    charts.forEach(function (c) { c.resize(); });
  });
  window.addEventListener("afterprint", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
