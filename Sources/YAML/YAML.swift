// Placeholder: this module is being written; see README's module map.
