//! `Sample`: one fixed sample document read from the samples folder.

use std::path::Path;

use crate::Failure;

/// A sample document: its file name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// File name inside the samples folder.
    pub name: String,
    /// Content, byte for byte.
    pub bytes: Vec<u8>,
}

/// Reads every regular, non-hidden file of `dir`, sorted by name.
///
/// # Errors
/// An input [`Failure`] (exit 2) naming the folder or file when the folder
/// is missing, holds no documents, or a file cannot be read.
pub fn load_samples(dir: &Path) -> Result<Vec<Sample>, Failure> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        Failure::input(format!(
            "{}: cannot read the samples folder: {err}",
            dir.display()
        ))
    })?;
    let mut samples = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| {
            Failure::input(format!(
                "{}: cannot list the samples folder: {err}",
                dir.display()
            ))
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') || !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|err| {
            Failure::input(format!("{}: cannot read the sample: {err}", path.display()))
        })?;
        samples.push(Sample { name, bytes });
    }
    if samples.is_empty() {
        return Err(Failure::input(format!(
            "{}: no sample documents found",
            dir.display()
        )));
    }
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sorted_and_skips_hidden_files_and_folders() {
        let dir = std::env::temp_dir().join(format!("runner-tasks-samples-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("b.log"), "bee").unwrap();
        std::fs::write(dir.join("a.md"), "ay").unwrap();
        std::fs::write(dir.join(".hidden"), "no").unwrap();
        let samples = load_samples(&dir).unwrap();
        let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a.md", "b.log"]);
        assert_eq!(samples[1].bytes, b"bee");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_or_empty_folder_is_an_input_error() {
        let failure = load_samples(Path::new("no/such/samples")).unwrap_err();
        assert_eq!(failure.code, 2);
        assert!(failure.message.contains("no/such/samples"));

        let dir = std::env::temp_dir().join(format!("runner-tasks-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let failure = load_samples(&dir).unwrap_err();
        assert!(
            failure.message.contains("no sample documents"),
            "{}",
            failure.message
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
