enum NSLuaPlaceholder {}
