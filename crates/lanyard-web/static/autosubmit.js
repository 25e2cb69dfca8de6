// Submits the SAML response form as soon as the page loads. The page works
// without this script: the form has a visible "Continue" button.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("saml-post");
  if (form) { form.submit(); }
});
