"""Frontend service: the web app (static HTML/CSS/JS served by the same stack, no build step)."""
