/* The visitor log's segment builder: pick a dimension (its frequent values are offered, from
   /segments/suggest/), an operator and a value, then AND or OR the condition onto the expression
   in #segment-input. Values are URL-encoded twice, as Matomo's segment editor does. Nothing is
   applied until the form is sent. */
(function () {
  "use strict";
  function suggest(builder, dimension) {
    var list = document.getElementById("builder-values"), picker = document.getElementById("builder-dimension");
    list.textContent = "";
    delete builder.dataset.suggested;
    fetch(builder.dataset.suggest + "?dimension=" + encodeURIComponent(dimension), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (values) {
        if (picker.value !== dimension) { return; }  // an answer for a dimension picked before this one
        list.textContent = "";
        values.forEach(function (value) {
          var option = document.createElement("option");
          option.value = value;
          list.appendChild(option);
        });
        builder.dataset.suggested = dimension;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var builder = document.getElementById("segment-builder");
    if (!builder) { return; }
    var dimension = document.getElementById("builder-dimension"), operator = document.getElementById("builder-operator");
    var value = document.getElementById("builder-value"), expression = document.getElementById("segment-input");
    dimension.addEventListener("change", function () { value.value = ""; suggest(builder, dimension.value); });
    value.addEventListener("focus", function () {  // the first dimension's values: asked for when needed only
      if (builder.dataset.suggested !== dimension.value) { suggest(builder, dimension.value); }
    });
    builder.querySelectorAll("button[data-join]").forEach(function (button) {
      button.addEventListener("click", function () {
        // encoded twice, as Matomo's segment editor does: the query string is decoded once, the
        // expression's values once more (so a value may hold ; , + or %)
        var condition = dimension.value + operator.value + encodeURIComponent(encodeURIComponent(value.value));
        var current = expression.value.trim();
        expression.value = current ? current + button.dataset.join + condition : condition;
        value.value = "";
      });
    });
  });
}());
