// Move the focus to the error summary, so that screen readers announce what to correct.
(function () {
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
