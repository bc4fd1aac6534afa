/* The search box: an ARIA 1.2 combobox over /api/suggest, and "/" to focus it; the phone's filter panel. No dependencies. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;

  function setup(form) {
    var input = form.querySelector('input[role="combobox"]');
    var list = document.getElementById(input ? input.getAttribute("aria-controls") : "");
    var url = form.getAttribute("data-suggest-url");
    if (!input || !list || !url) {
      return;
    }
    var items = [];
    var active = -1;
    var timer = 0;
    var controller = null;

    function close() {
      list.hidden = true;
      list.replaceChildren();
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function select(index) {
      var options = list.children;
      for (var i = 0; i < options.length; i++) {
        options[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      input.value = items[index];
      close();
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    }

    function render(query, suggestions) {
      if (input.value.trim() !== query || !suggestions.length || document.activeElement !== input) {
        close();
        return;
      }
      list.replaceChildren();
      items = suggestions.slice();
      items.forEach(function (text, i) {
        var option = document.createElement("li");
        option.id = list.id + "-" + i;
        option.className = "suggestion";
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = text;
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); /* keep the focus in the box */
          choose(i);
        });
        list.appendChild(option);
      });
      active = -1;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function load(query) {
      if (controller) {
        controller.abort();
      }
      controller = new AbortController();
      fetch(url + "?q=" + encodeURIComponent(query), {
        signal: controller.signal,
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (data && data.ok) {
            render(query, data.suggestions || []);
          } else {
            close();
          }
        })
        .catch(function (error) {
          if (error.name !== "AbortError") {
            close();
          }
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      var query = input.value.trim();
      if (!query) {
        close();
        return;
      }
      timer = window.setTimeout(function () {
        load(query);
      }, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (event) {
      if (event.isComposing || event.keyCode === 229) {
        return; /* the IME is still composing: its keys are not ours */
      }
      if (list.hidden || !items.length) {
        return;
      }
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          select((active + 1) % items.length);
          break;
        case "ArrowUp":
          event.preventDefault();
          select(active <= 0 ? items.length - 1 : active - 1);
          break;
        case "Enter":
          if (active >= 0) {
            event.preventDefault();
            choose(active);
          } else {
            close();
          }
          break;
        case "Escape":
          event.preventDefault();
          close();
          break;
        case "Tab":
          close();
          break;
        default:
          break;
      }
    });

    input.addEventListener("blur", function () {
      window.clearTimeout(timer);
      close();
    });
  }

  var forms = document.querySelectorAll("form[data-suggest-url]");
  for (var i = 0; i < forms.length; i++) {
    setup(forms[i]);
  }

  /* "/" focuses the search box with the cursor after the query, as autofocus does here. */
  function focusAtEnd(input) {
    input.focus();
    var end = input.value.length;
    input.setSelectionRange(end, end);
  }

  var box = document.getElementById("q");
  if (box) {
    if (box.autofocus) {
      focusAtEnd(box); /* now, not when the browser gets to autofocus: then the cursor would be first */
    }
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) {
        return;
      }
      var target = event.target;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
        return; /* a "/" typed into a field is text */
      }
      event.preventDefault();
      focusAtEnd(box);
    });
  }

  /* On a phone the filter panel starts closed above the results (open without JavaScript). */
  var panel = document.querySelector("details.refine");
  if (panel && window.matchMedia) {
    var narrow = window.matchMedia("(max-width: 820px)");
    panel.open = !narrow.matches;
    narrow.addEventListener("change", function () {
      panel.open = !narrow.matches;
    });
  }
})();
