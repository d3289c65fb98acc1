"""Web pages: the topics page, the operators' verification pages, the results lookup."""
