package cow

// OldHeader lets the external interop tests build hand-made headers of every version.
var OldHeader = oldHeader
