// The part of markdown-it (the renderer of VS Code's markdown preview) the unit tests use.
declare module "markdown-it" {
  interface Options {
    html?: boolean;
    linkify?: boolean;
    typographer?: boolean;
  }
  export default class MarkdownIt {
    constructor(options?: Options);
    render(source: string): string;
  }
}
