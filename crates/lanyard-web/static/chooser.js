// The role chooser's filter box (shown above 10 roles): hides the roles,
// and the accounts, whose text does not contain what was typed. The page
// works without it.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("role-filter");
  if (!box) { return; }
  box.hidden = false;
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll("section.account").forEach(function (account) {
      var heading = account.querySelector("h2").textContent.toLowerCase();
      var shown = 0;
      account.querySelectorAll("li.role").forEach(function (role) {
        var text = heading + " " + role.textContent.toLowerCase();
        var match = words.every(function (w) { return text.indexOf(w) >= 0; });
        role.hidden = !match;
        if (match) { shown += 1; }
      });
      account.hidden = shown === 0;
    });
  });
});
