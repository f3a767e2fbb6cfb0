//! The system prompt: Sigmic's base prompt, then the project's prompts, then the task's own.

use crate::tools::ToolDefinition;

const BASE: &str = "You are Sigmic, an AI agent that completes tasks for people by working on a real computer.

You work in an isolated Linux sandbox. Your working directory is /workspace; files you create there are the task's results, which people can download. Files people upload are under /workspace/uploads. Use the tools to inspect, run, and verify rather than guessing: read files before changing them, run the code you write, and check the results. Shell commands run with /bin/sh in /workspace; long-running commands are stopped after a time limit.

When you are done, answer with a short summary of what you did and where the results are. If something cannot be done, say so plainly and explain why.";

/// `skills` are `(name, description)`: only these are in the prompt; the agent opens a skill's
/// `SKILL.md` when a task calls for it.
pub fn system_prompt(
    project_prompts: &[(String, String)],
    task_prompt: Option<&str>,
    tools: &[ToolDefinition],
    skills: &[(String, String)],
) -> String {
    let mut out = String::from(BASE);
    if !tools.is_empty() {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        out.push_str(&format!("\n\nTools available: {}.", names.join(", ")));
    }
    if !skills.is_empty() {
        out.push_str(&format!(
            "\n\n## Skills\n\nSkills are folders of instructions, scripts and resources under {mount}/ (read-only). When a task matches a skill's description, read {mount}/<name>/{md} first and follow it; run its scripts from where they are. Available skills:\n",
            mount = crate::skills::MOUNT,
            md = crate::skills::SKILL_MD,
        ));
        for (name, description) in skills {
            out.push_str(&format!("\n- {name}: {description}"));
        }
    }
    for (name, content) in project_prompts {
        if content.trim().is_empty() {
            continue;
        }
        out.push_str(&format!("\n\n## {name}\n\n{}", content.trim()));
    }
    if let Some(p) = task_prompt.filter(|p| !p.trim().is_empty()) {
        out.push_str("\n\n## Instructions for this task\n\n");
        out.push_str(p.trim());
    }
    out
}
