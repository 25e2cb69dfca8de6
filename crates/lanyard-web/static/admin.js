// The admin portal's few enhancements; every page works without them.
// - [data-copy="<id>"]: copies the text of element <id> (Copy Metadata URL).
// - input[type=file][data-preview="<id>"]: shows the chosen image in <img id>.
// - form[data-confirm]: asks before submitting (key deletion and the like).
// - tr[data-href]: a click anywhere in the row opens that page (its link,
//   checkbox and other controls keep their own meaning).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      var text = source.value !== undefined ? source.value : source.textContent;
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {
          source.select && source.select();
        });
      } else if (source.select) {
        source.select();
        if (document.execCommand("copy")) { done(); }
      }
    });
  });
  document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
    input.addEventListener("change", function () {
      var img = document.getElementById(input.getAttribute("data-preview"));
      var file = input.files && input.files[0];
      if (!img || !file) { return; }
      var reader = new FileReader();
      reader.onload = function () { img.src = reader.result; img.hidden = false; };
      reader.readAsDataURL(file);
    });
  });
  document.querySelectorAll("tr[data-href]").forEach(function (row) {
    row.classList.add("clickable");
    row.addEventListener("click", function (event) {
      if (event.target.closest("a, button, input, select, textarea, label")) { return; }
      window.location.assign(row.getAttribute("data-href"));
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
});
