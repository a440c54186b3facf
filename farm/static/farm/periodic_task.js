// django-celery-beat's periodic task form: shows the chosen crontab in words (its inline script, as a file).
"use strict";
(function () {
  const script = document.currentScript;
  const $ = window.django && window.django.jQuery;
  if (!$ || !document.getElementById("readable-crontabs")) {
    return;
  }
  const readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const help = script.dataset.crontabHelp || "";
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    const words = readable[$("#id_crontab").val()] || "";
    $(".field-crontab .help").text(help).append("<br>", document.createTextNode("Translation: " + words));
  });
})();
