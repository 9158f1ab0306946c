// The page of research packages looks again every 5 seconds while a package is being prepared,
// unless the researcher turns that off (WCAG 2.2.1: a timing the user can turn off). The choice
// holds for the browser tab.
(function () {
  "use strict";
  var box = document.getElementById("auto-refresh");
  if (!box) {
    return;
  }
  var key = "msc-packages-auto-refresh";
  if (sessionStorage.getItem(key) === "off") {
    box.checked = false;
  }
  box.addEventListener("change", function () {
    sessionStorage.setItem(key, box.checked ? "on" : "off");
  });
  setInterval(function () {
    if (box.checked) {
      window.location.reload();
    }
  }, 5000);
})();
