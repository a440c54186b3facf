/* The site dashboard's charts: each <canvas data-chart="ID"> is drawn from <script id="ID" type="application/json">
   ({type, labels, values, label}, written by analytics/dashboard/pages.py:chart_config) with the vendored
   Chart.js. Each <div data-map="ID"> reads the same config with type "map" (analytics/dashboard/maps.py:
   labels are lowercase ISO 3166-1 alpha-2 codes) and is drawn as a world map with the vendored jsvectormap:
   countries shaded by value, a legend, the value on hover. Charts and maps in parts swapped in by htmx
   (a sorted or searched report) are drawn as they arrive. */
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

  // The map's sequential scale: the dashboard's blue, lighter for small values; countries without data
  // keep the grey of NO_DATA. NB: the light end must stay clearly apart from that grey.
  var MAP_SCALE = ["#bdccef", "#2456c9"];
  var NO_DATA = "#dee2e8";

  function countryName(code, fallback) {
    // The page's language, as the tables name countries (CLDR via Babel there, the browser's CLDR here);
    // the map file's English name when the browser cannot tell.
    try {
      return new Intl.DisplayNames([document.documentElement.lang || "en"], {type: "region"}).of(code) || fallback;
    } catch (error) {
      return fallback;
    }
  }

  function formatNumber(value) {
    try {
      return new Intl.NumberFormat(document.documentElement.lang || "en").format(value);
    } catch (error) {
      return String(value);
    }
  }

  function span(text, className) {
    var element = document.createElement("span");
    element.textContent = text;
    element.className = className || "";
    return element;
  }

  function mapLegend(spec, values) {
    var numbers = Object.keys(values).map(function (code) { return values[code]; });
    var low = Math.min.apply(null, numbers), high = Math.max.apply(null, numbers);
    var legend = document.createElement("div"), scale = span("", "scale");
    legend.className = "map-legend";
    legend.appendChild(span(spec.label));
    // With one value jsvectormap paints every country with data in the dark end: the legend shows just that.
    if (low !== high) { legend.appendChild(span(formatNumber(low), "low")); }
    scale.style.background = low === high ? MAP_SCALE[1] : "linear-gradient(to right, " + MAP_SCALE.join(", ") + ")";
    legend.appendChild(scale);
    legend.appendChild(span(formatNumber(high), "high"));
    return legend;
  }

  function drawMap(element, spec) {
    var values = {};
    spec.labels.forEach(function (code, i) {
      if (code && code !== "xx" && spec.values[i]) { values[code.toUpperCase()] = spec.values[i]; }
    });
    new window.jsVectorMap({
      selector: element, map: "world", zoomOnScroll: false, zoomButtons: true,
      regionStyle: {initial: {fill: NO_DATA}},
      visualizeData: {scale: MAP_SCALE, values: values},
      onRegionTooltipShow: function (event, tooltip, code) {
        var name = countryName(code, tooltip.text());
        tooltip.text(name + ": " + formatNumber(values[code] || 0) + " " + spec.label);
      }
    });
    if (Object.keys(values).length) { element.appendChild(mapLegend(spec, values)); }
  }

  function draw(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source || window.Chart.getChart(canvas)) { return; }
      new window.Chart(canvas, config(JSON.parse(source.textContent)));
    });
    (root || document).querySelectorAll("div[data-map]").forEach(function (element) {
      var source = document.getElementById(element.dataset.map);
      // jsvectormap marks the element it draws in: htmx.onLoad also runs on the first page load.
      if (!source || element.classList.contains("jvm-container")) { return; }
      drawMap(element, JSON.parse(source.textContent));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    if (window.htmx) { window.htmx.onLoad(draw); }
  });
}());
