@_exported import SQLiteSupport

/// The records' failures are the shared SQLite layer's: the name the daemon's code and tests use.
public typealias RecordError = SQLiteError
