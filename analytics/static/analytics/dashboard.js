/* The site dashboard's charts: each <canvas data-chart="ID"> is drawn from <script id="ID" type="application/json">
   ({type, labels, values, label}, written by analytics/dashboard/pages.py:chart_config) with the vendored
   Chart.js. Charts in parts swapped in by htmx (a sorted or searched report) are drawn as they arrive. */
(function () {
  "use strict";
  var COLORS = ["#2456c9", "#e0892b", "#1b9e77", "#c2185b", "#7b61c9", "#8c6d31", "#17becf", "#9aa3b0",
                "#d62728", "#2ca02c"];

  function config(spec) {
    var dataset = {label: spec.label, data: spec.values, borderColor: "#2456c9",
                   backgroundColor: spec.type === "pie" ? COLORS : "rgba(36, 86, 201, .25)"};
    var options = {responsive: true, maintainAspectRatio: false, animation: false};
    if (spec.type === "sparkline") {
      dataset.pointRadius = 0;
      dataset.borderWidth = 1.5;
      options.plugins = {legend: {display: false}, tooltip: {enabled: false}};
      options.scales = {x: {display: false}, y: {display: false, beginAtZero: true}};
      return {type: "line", data: {labels: spec.labels, datasets: [dataset]}, options: options};
    }
    if (spec.type === "line") {
      dataset.fill = true;
      dataset.tension = 0.25;
      options.scales = {y: {beginAtZero: true}};
      options.plugins = {legend: {display: false}};
    } else if (spec.type === "bar") {
      options.scales = {y: {beginAtZero: true}};
      options.plugins = {legend: {display: false}};
    } else {
      options.plugins = {legend: {position: "right"}};
    }
    return {type: spec.type, data: {labels: spec.labels, datasets: [dataset]}, options: options};
  }

  function draw(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source || window.Chart.getChart(canvas)) { return; }
      new window.Chart(canvas, config(JSON.parse(source.textContent)));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    if (window.htmx) { window.htmx.onLoad(draw); }
  });
}());
