enum NetLabPlaceholder {}
