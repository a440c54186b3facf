// Behaviours of the farm's pages, wired from data- attributes rather than inline handlers, so that
// the Content-Security-Policy refuses every inline script (script-src 'self'):
//   <select data-autosubmit>                 submits its form when changed
//   <input type=checkbox data-check-all=SEL> checks or unchecks every box SEL matches
//   <button data-confirm="Sure?">            asks first, and does nothing unless confirmed
"use strict";
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches("[data-autosubmit]") && target.form) {
    target.form.submit();
  }
  if (target.matches("[data-check-all]")) {
    document.querySelectorAll(target.dataset.checkAll).forEach((box) => { box.checked = target.checked; });
  }
});
document.addEventListener("click", (event) => {
  const asking = event.target.closest("[data-confirm]");
  if (asking && !window.confirm(asking.dataset.confirm)) {
    event.preventDefault();
  }
});
